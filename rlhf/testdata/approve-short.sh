#!/bin/sh
# Rule annotator: approves replies of fewer than N words (default 12).
# Usage: approve-short.sh [N]
# mawk reads its input in blocks unless told otherwise; answers must not
# wait for more requests.
opts=
case "$(awk -W version 2>&1 | head -n 1)" in mawk*) opts="-W interactive" ;; esac
exec awk $opts -v rule=short -v arg="${1:-12}" -f "$(dirname "$0")/annotate.awk"
