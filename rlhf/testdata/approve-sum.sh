#!/bin/sh
# Rule annotator: approves replies whose last number is the sum of the
# first two numbers in the prompt (for addition questions).
opts=
case "$(awk -W version 2>&1 | head -n 1)" in mawk*) opts="-W interactive" ;; esac
exec awk $opts -v rule=sum -f "$(dirname "$0")/annotate.awk"
