#!/bin/sh
# Rule annotator: approves replies that mention WORD (default "happy"),
# case-insensitively, as a whole word; disapproves the rest.
# Usage: approve-word.sh [WORD]
# mawk reads its input in blocks unless told otherwise; answers must not
# wait for more requests.
opts=
case "$(awk -W version 2>&1 | head -n 1)" in mawk*) opts="-W interactive" ;; esac
exec awk $opts -v rule=word -v arg="${1:-happy}" -f "$(dirname "$0")/annotate.awk"
