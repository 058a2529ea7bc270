# Rule annotator for hone's annotator protocol (design.md): one JSON request
# per input line, one JSON answer per output line, in order. POSIX awk only
# (mawk, gawk, busybox). Variables (awk -v): rule = word|short|period,
# arg = the word (word) or the word limit (short).
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
	} else if (rule == "period") {
		sub(/[ \t]+$/, "", reply)
		if (substr(reply, length(reply), 1) == ".") { rating = 1; reason = "ends with a period" }
		else reason = "does not end with a period"
	} else {
		print "annotate.awk: unknown rule " rule > "/dev/stderr"
		exit 2
	}
	printf "{\"id\":\"%s\",\"rating\":%d,\"reason\":\"%s\"}\n", esc(id), rating, esc(reason)
	fflush()
}
