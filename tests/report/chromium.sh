#!/usr/bin/env bash
# The report as a reader sees it: a small real study (the real MiniLM on 100 SST-2 rows, 2 recipes x 3
# seeds, 2 updates each), its report.html rendered offline by headless Chromium (Debian's `chromium`,
# installed here when missing), and the rendered page checked: every figure drawn, the tables there, no
# request leaving the machine.
#
#   tests/report/chromium.sh [path/to/stabletune]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-target/release/stabletune}")
ASSETS=$(realpath ../shared/assets)

if ! command -v chromium >/dev/null; then
    echo "installing chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium >/dev/null
fi

DIR=$(mktemp -d /tmp/stabletune-report.XXXXXX)
cleanup() { if [ "${KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi; }
trap cleanup EXIT

. tests/small_study.sh
small_study "$DIR" report-test "max_steps = 4
grad_norms_every = 1"
"$BIN" study run "$DIR/study.toml" --out "$DIR/study" > "$DIR/study.out" 2> "$DIR/study.err"
REPORT="$DIR/study/report/report.html"
[ -f "$REPORT" ] || { echo "study run wrote no report"; cat "$DIR/study.err"; exit 1; }

# Offline: every host name resolves to nothing, so a page that fetched anything would show it.
flags=(--headless --no-sandbox --disable-gpu --host-resolver-rules="MAP * ~NOTFOUND" --window-size=1200,2000)
chromium "${flags[@]}" --dump-dom "file://$REPORT" > "$DIR/dom.html" 2> "$DIR/chromium.err"
chromium "${flags[@]}" --screenshot="$DIR/page.png" "file://$REPORT" >/dev/null 2>> "$DIR/chromium.err"

fail=0
figures=$(grep -o '"file": "figures/[^"]*"' "$DIR/study/report/report.json" | wc -l)
svgs=$(grep -o '<svg' "$DIR/dom.html" | wc -l)
[ "$figures" -ge 6 ] || { echo "only $figures figures in report.json"; fail=1; }
[ "$svgs" = "$figures" ] || { echo "the rendered page has $svgs SVGs for $figures figures"; fail=1; }
for text in "Stability over seeds (Table 1)" "What the tests support" "The paper's comparison:" "diverged" "Recommendation." "devlin2019" "mosbach2021" "Runs"; do
    grep -qF "$text" "$DIR/dom.html" || { echo "the rendered page lacks: $text"; fail=1; }
done
# Each figure's axes were drawn with text (a broken SVG renders as nothing).
grep -q '<text' "$DIR/dom.html" || { echo "no text in the figures"; fail=1; }
size=$(stat -c %s "$DIR/page.png")
[ "$size" -gt 50000 ] || { echo "the screenshot is nearly empty ($size bytes)"; fail=1; }
if [ "$fail" != 0 ] || [ "${KEEP:-0}" = 1 ]; then
    KEEP=1
    echo "kept $DIR for inspection"; [ "$fail" = 0 ] || exit 1
fi
echo "report: $figures figures rendered by Chromium offline, tables and recommendation present (screenshot $size bytes)"
