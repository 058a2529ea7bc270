#!/bin/sh
# Rule annotator: approves replies that do not contain S (default ",").
# Usage: approve-without.sh [S]
# mawk reads its input in blocks unless told otherwise; answers must not
# wait for more requests.
opts=
case "$(awk -W version 2>&1 | head -n 1)" in mawk*) opts="-W interactive" ;; esac
exec awk $opts -v rule=without -v arg="${1:-,}" -f "$(dirname "$0")/annotate.awk"
