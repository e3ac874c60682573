#!/bin/sh
# A tiny static-site generator: every pages/*.txt becomes an HTML page in the output folder, and
# index.html links them all. Usage: sh build.sh PAGES_DIR OUT_DIR
set -eu
pages=$1
out=$2
mkdir -p "$out"
{
  echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Gantry notes</title></head><body>'
  echo '<h1>Gantry notes</h1><ul>'
} > "$out/index.html"
for page in "$pages"/*.txt; do
  name=$(basename "$page" .txt)
  title=$(head -n 1 "$page")
  {
    echo "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>$title</title></head><body>"
    echo "<h1>$title</h1>"
    tail -n +2 "$page" | sed 's/^/<p>/; s/$/<\/p>/'
    echo '</body></html>'
  } > "$out/$name.html"
  echo "<li><a href=\"$name.html\">$title</a></li>" >> "$out/index.html"
done
echo '</ul></body></html>' >> "$out/index.html"
echo "built $(ls "$out" | wc -l) pages into $out"
