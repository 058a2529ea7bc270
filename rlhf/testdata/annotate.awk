# Rule annotator for hone's annotator protocol (design.md): one JSON request
# per input line, one JSON answer per output line, in order. POSIX awk only
# (mawk, gawk, busybox). Variables (awk -v): rule = word|short|period|
# end|without, arg = the word (word), the word limit (short), the ending
# (end: the reply, less trailing blanks, ends with it) or the text the
# reply must not contain (without); sum checks that the reply's last
# number is the sum of the first two numbers of the prompt.
#
# The reply is taken from the request's "reply" string; JSON escapes are
# decoded enough for the rules (\n, \t, \", \\; \uXXXX kept as text).

function jstr(s, name,    i, j, c, d, out) {
	i = index(s, "\"" name "\":\"")
	if (i == 0) { i = index(s, "\"" name "\": \""); if (i == 0) return ""; s = substr(s, i + length(name) + 5) }
	else s = substr(s, i + length(name) + 4)
	out = ""
	for (j = 1; j <= length(s); j++) {
		c = substr(s, j, 1)
		if (c == "\\") {
			d = substr(s, j + 1, 1); j++
			if (d == "n" || d == "t" || d == "r") out = out " "
			else out = out d
			continue
		}
		if (c == "\"") break
		out = out c
	}
	return out
}

function esc(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return s }

{
	id = jstr($0, "id")
	reply = jstr($0, "reply")
	text = tolower(reply)
	rating = -1
	if (rule == "word") {
		gsub(/[^a-z0-9]+/, " ", text)
		if (index(" " text " ", " " tolower(arg) " ") > 0) { rating = 1; reason = "mentions " arg }
		else reason = "does not mention " arg
	} else if (rule == "short") {
		n = split(reply, w, /[ \t]+/)
		m = 0
		for (k = 1; k <= n; k++) if (w[k] != "") m++
		if (m < arg + 0) { rating = 1; reason = m " words < " arg }
		else reason = m " words >= " arg
	} else if (rule == "sum") {
		# The first two whole numbers of the first message are the addends;
		# the reply's last whole number must be their sum.
		q = jstr($0, "content")
		na = 0; s = q
		while (na < 2 && match(s, /[0-9]+/)) { ad[++na] = substr(s, RSTART, RLENGTH) + 0; s = substr(s, RSTART + RLENGTH) }
		last = ""; s = reply
		while (match(s, /[0-9]+/)) { last = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH) }
		if (na == 2 && last != "" && last + 0 == ad[1] + ad[2]) { rating = 1; reason = "correct sum " last }
		else reason = "wrong or missing sum"
	} else if (rule == "period") {
		sub(/[ \t]+$/, "", reply)
		if (substr(reply, length(reply), 1) == ".") { rating = 1; reason = "ends with a period" }
		else reason = "does not end with a period"
	} else if (rule == "end") {
		sub(/[ \t]+$/, "", reply)
		if (arg != "" && length(reply) >= length(arg) && substr(reply, length(reply) - length(arg) + 1) == arg) { rating = 1; reason = "ends with " arg }
		else reason = "does not end with " arg
	} else if (rule == "without") {
		if (arg != "" && index(reply, arg) == 0) { rating = 1; reason = "has no " arg }
		else reason = "has " arg
	} else {
		print "annotate.awk: unknown rule " rule > "/dev/stderr"
		exit 2
	}
	printf "{\"id\":\"%s\",\"rating\":%d,\"reason\":\"%s\"}\n", esc(id), rating, esc(reason)
	fflush()
}
