#!/bin/sh
# Rule annotator: approves replies that end with a period.
# mawk reads its input in blocks unless told otherwise; answers must not
# wait for more requests.
opts=
case "$(awk -W version 2>&1 | head -n 1)" in mawk*) opts="-W interactive" ;; esac
exec awk $opts -v rule=period -f "$(dirname "$0")/annotate.awk"
