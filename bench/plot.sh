#!/usr/bin/env bash
# Draws the plots of a results directory written by bench/e2e/scaling_bench.py:
#   throughput.png  MB/s of tar against -j threads, one line per image, unpack and validate
#                   side by side (min..max of the runs as error bars; the floor that
#                   `ocipipe bench` computes for all cores as a dashed line where known)
#   peers.png       median seconds per tool, one panel per image: ocipipe at its fastest -j
#                   against each peer (min..max as error bars, the ratio above each bar)
# Usage: bench/plot.sh RESULTS_DIR     (gnuplot from Debian's gnuplot-nox package)
set -euo pipefail

die() { echo "plot.sh: $*" >&2; exit 2; }
[ $# -eq 1 ] || die "usage: bench/plot.sh RESULTS_DIR"
dir=$1
[ -f "$dir/scaling.csv" ] || die "$dir/scaling.csv not found (run bench/e2e/scaling_bench.py first)"
command -v gnuplot >/dev/null || die "gnuplot not found (apt-get install gnuplot-nox)"

# pngcairo draws anti-aliased text; plain png (libgd) is the fallback.
if gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo; then
  term='pngcairo enhanced font "DejaVu Sans,10"'
else
  term='png enhanced font "DejaVu Sans,10"'
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
host=$(basename "$(cd "$dir" && pwd)")

# ---------------------------------------------------------------- throughput.png
# scaling.csv: image,verb,jobs,median_s,min_s,max_s,mb_per_s,cpu_s,peak_rss_mib,runs,tar_bytes,floor_s,...
# One data file per image and verb: jobs, MB/s of the median, of the slowest run, of the fastest.
awk -F, -v d="$tmp" 'NR > 1 && $4 != "-" {
    f = d "/s_" $1 "_" $2 ".dat"
    print $3, $7, $11 / 1e6 / $6, $11 / 1e6 / $5 > f
    if ($12 != "-") floor[$1 "_" $2] = $11 / 1e6 / $12
    if ($3 > maxj) maxj = $3
    if (!($1 in seen)) { seen[$1] = 1; print $1 > (d "/scaling_images") }
  }
  END {
    for (k in floor) print k, floor[k] > (d "/floors")
    print maxj + 0 > (d "/maxj")
  }' "$dir/scaling.csv"
maxj=$(cat "$tmp/maxj")
[ "${maxj:-0}" -gt 0 ] || die "$dir/scaling.csv has no measured row"

panel() {  # verb: one plot command over the images that have this verb
  local verb=$1 cmd="" color=0 f img fl
  while read -r img; do  # one color per image, the same in both panels
    color=$((color + 1))
    f="$tmp/s_${img}_$verb.dat"
    [ -e "$f" ] || continue
    cmd+="${cmd:+, }'$f' using 1:2:3:4 with yerrorlines lw 2 pt 7 ps 1 lc $color title '$img'"
    fl=$(awk -v k="${img}_$verb" '$1 == k { print $2 }' "$tmp/floors" 2>/dev/null || true)
    if [ -n "$fl" ]; then
      cmd+=", $fl with lines dt 2 lw 1.5 lc $color title '$img floor'"
    fi
  done < "$tmp/scaling_images"
  echo "${cmd:-NaN notitle}"
}

xmax=$(awk -v m="$maxj" 'BEGIN { print (m < 2 ? 2 : m) * 1.3 }')
cat > "$tmp/throughput.gp" <<EOF
set terminal $term size 1400,520
set output '$dir/throughput.png'
set multiplot layout 1,2 title "ocipipe throughput against threads ($host)\\nMB/s of tar of the median run, min..max as bars; dashed: the floor that ocipipe bench computes for all cores" font ",12"
set logscale x 2
set xrange [0.8:$xmax]
set xtics (1, 2, 4, 8, 16, 32, 64, 128)
set xlabel "threads (ocipipe -j)"
set ylabel "MB/s of uncompressed tar (10^6 B/s)"
set yrange [0:*]
set grid
set key outside right top vertical box
set title "ocipipe unpack (into a tmpfs)"
plot $(panel unpack)
set title "ocipipe validate"
plot $(panel validate)
unset multiplot
EOF
gnuplot "$tmp/throughput.gp"

# ---------------------------------------------------------------- peers.png
# peers.csv: image,tool,jobs,median_s,min_s,max_s,mb_per_s,cpu_s,peak_rss_mib,runs,ratio_vs_ocipipe_best,...
awk -F, -v d="$tmp" 'NR > 1 && $4 != "-" {
    if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
    label = ($2 == "ocipipe") ? "ocipipe -j" $3 : ($2 == "floor" ? "floor" : $2)
    lo = ($5 == "-") ? $4 : $5; hi = ($6 == "-") ? $4 : $6
    ratio = ($11 == "-") ? "" : sprintf("%.2fx", $11)
    printf "\"%s\" %s %s %s \"%s\"\n", label, $4, lo, hi, ratio > (d "/p_" $1 ".dat")
  }
  END { for (i = 1; i <= n; i++) print order[i] > (d "/images") }' "$dir/peers.csv"
[ -s "$tmp/images" ] || die "$dir/peers.csv has no measured row"
n=$(wc -l < "$tmp/images")
{
  w=$((420 * n + 80)); [ "$w" -ge 760 ] || w=760
  echo "set terminal $term size $w,540"
  echo "set output '$dir/peers.png'"
  echo "set multiplot layout 1,$n title \"ocipipe unpack against its peers, into a tmpfs ($host)\\nmedian wall time of the runs, min..max as bars; label: time / ocipipe's\" font \",12\""
  echo "set style fill solid 0.7 border -1"
  echo "set ylabel 'wall time, seconds (lower is better)'"
  echo "set yrange [0:*]"
  echo "set grid ytics"
  echo "set xtics rotate by -30 nomirror"
  echo "unset key"
  while read -r img; do
    f="$tmp/p_$img.dat"
    echo "set title '$img'"
    echo "set offsets 0.5, 0.5, graph 0.08, 0"
    echo "plot '$f' using 0:2:3:4:(0.6):(\$0 == 0 ? 0x2e8b57 : (strcol(1) eq 'floor' ? 0xaaaaaa : 0x4682b4)):xtic(1) \\"
    echo "       with boxerrorbars lc rgb variable, \\"
    echo "     '' using 0:4:5 with labels offset 0,0.8 font ',9'"
  done < "$tmp/images"
  echo "unset multiplot"
} > "$tmp/peers.gp"
gnuplot "$tmp/peers.gp"
echo "plot.sh: wrote $dir/throughput.png $dir/peers.png"
