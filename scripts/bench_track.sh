#!/usr/bin/env bash
# `make bench`, tracking overhead: one short Fashion-MNIST run (default
# resnet, batch 256, all cores) tracked every 10 steps at the default
# track_samples / track_views / track_images.  train.csv has a row per step
# with the wall time, and an event runs between a step and its row, so an
# event costs (time to an event step's row) − (median time to another row),
# both measured in the same run; projected onto runs with 20 events.
set -euo pipefail
bin=${1:-build/simsiam-mi}
dir=build/bench/track
steps=40 every=10
rm -rf "$dir"
mkdir -p "$dir"
echo "== tracking overhead: default resnet, batch 256, $steps steps, an event every $every" \
     "(track_samples 1024, track_views 64, track_images 32) =="
"$bin" train steps=$steps track_every=$every knn_every=0 checkpoint_every=0 out="$dir/run" \
    >"$dir/run.log" 2>&1 || { cat "$dir/run.log" >&2; echo "bench: tracked run failed" >&2; exit 1; }
rows=$(($(wc -l <"$dir/run/track.csv") - 1))
[ "$rows" -eq $((steps / every + 1)) ] || { echo "bench: expected $((steps / every + 1)) tracking rows, got $rows" >&2; exit 1; }
awk -F, -v every=$every 'NR > 1 {
    if (NR > 2 && $1 > 3) { d = $7 - prev; if ($1 % every == 0) { ev += d; nev++ } else plain[++np] = d }
    prev = $7
} END {
    n = np; for (i = 2; i <= n; i++) for (j = i; j > 1 && plain[j - 1] > plain[j]; j--) { t = plain[j]; plain[j] = plain[j - 1]; plain[j - 1] = t }
    step = n % 2 ? plain[(n + 1) / 2] : (plain[n / 2] + plain[n / 2 + 1]) / 2;
    event = ev / nev - step;
    printf "median step %.3f s (%.0f img/s), tracking event %.2f s (mean of %d, the step subtracted)\n", step, 256 / step, event, nev;
    n60 = 60 * 234; n100 = 100 * 234; n200 = 200;
    printf "20 events in a default 60-epoch run (%d steps): +%.2f%%; in a 100-epoch run (%d steps): +%.2f%% (target <= 5%%)\n", n60, 100 * 20 * event / (n60 * step), n100, 100 * 20 * event / (n100 * step);
    printf "(make run: %d steps, 11 events: +%.0f%%)\n", n200, 100 * 11 * event / (n200 * step);
}' "$dir/run/train.csv"
