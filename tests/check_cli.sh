#!/bin/sh
# check_cli.sh -- the cemdiff tool end to end: a short train / info / sample
# / eval / profile round trip, checkpoint and resume, CSV data, and the exit
# status and message of each kind of error.
#
#   sh tests/check_cli.sh bin/cemdiff
#
# Prints "ok - ..." or "not ok - ..." per check and, last,
# "check_cli: N passed, M failed"; exits non-zero when M > 0.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: sh tests/check_cli.sh path/to/cemdiff" >&2
    exit 2
fi
case $1 in
/*) cli=$1 ;;
*) cli=$(pwd)/$1 ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
cd "$tmp"

passed=0
failed=0
status=0

# run ARGS...: runs the tool; its stdout goes to ./out, stderr to ./err and
# its exit status to $status.
run() {
    set +e
    "$cli" "$@" >out 2>err
    status=$?
    set -e
}

# check DESCRIPTION CONDITION: CONDITION is shell code evaluated after the
# last run (it sees $status, out, err and the files made so far).
check() {
    if eval "$2"; then
        passed=$((passed + 1))
        echo "ok - $1"
    else
        failed=$((failed + 1))
        echo "not ok - $1 (exit status $status)"
        sed 's/^/#   /' err
    fi
}

# below A B: the number A is below the number B.
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0 && a != "") }'; }

# csv_shape FILE ROWS COLS: FILE has ROWS lines of COLS numbers.
csv_shape() {
    awk -F, -v rows="$2" -v cols="$3" '
        NF != cols { bad++ }
        { for (i = 1; i <= NF; i++) if ($i !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) bad++ }
        END { exit bad > 0 || NR != rows }' "$1"
}

# has_lines FILE LABEL...: FILE has a line starting with each LABEL.
has_lines() {
    f=$1
    shift
    for label in "$@"; do
        grep -q "^$label " "$f" || return 1
    done
}

small="--width 16 --depth 2 --n 500"

# ---- round trip --------------------------------------------------------------
run train --data circle --steps 60 $small --quiet -o m.cem
check "train --data circle writes a model" '[ $status -eq 0 ] && [ -s m.cem ]'
check "train --quiet prints nothing" '[ ! -s out ] && [ ! -s err ]'

run info m.cem
check "info shows the width" '[ $status -eq 0 ] && grep -Eq "^width +16$" out'
check "info shows kind, target and parameters" \
    'grep -Eq "^kind +mlp$" out && grep -Eq "^target +cem$" out && grep -Eq "^parameters +[0-9]+$" out'

check "info shows the default parameterisation and the measured data statistics" \
    'grep -Eq "^param +pca$" out && grep -Eq "^data sd +0\.[0-9]+$" out && grep -Eq "^data mean +-?[0-9.e-]+ -?[0-9.e-]+$" out'

# ---- recipes -----------------------------------------------------------------
run train --data circle --steps 5 $small -o r.cem
check "train describes the default recipe (pca, lambda, grid)" \
    '[ $status -eq 0 ] && grep -q "recipe: pca, weight lambda, time law grid" err'
run train --data circle --dim 3 --steps 5 $small --param pca -o p.cem
run info p.cem
check "train --param pca measures the data's axes: info shows their sds (the circle's two, the empty third)" \
    'grep -Eq "^param +pca$" out && grep -Eq "^axis sds +0\.[67][0-9]* +0\.[67][0-9]* +[0-9.e-]+$" out && awk '"'"'/^axis sds/ { exit !($5 < 1e-5) }'"'"' out'
run train --data circle --steps 5 $small --param direct -o r.cem
check "train --param direct takes the paper's recipe (lambda, grid)" \
    '[ $status -eq 0 ] && grep -q "recipe: direct, weight lambda, time law grid" err'
run train --data circle --steps 5 $small --law lognormal --lognormal-mean -1 --lognormal-std 1.5 --importance 1 -o r.cem
check "train --law lognormal with its parameters and importance weights" \
    '[ $status -eq 0 ] && grep -q "time law lognormal" err'
run train --data circle --steps 5 $small --param precond --target noise -o r.cem
check "train --target noise --param precond is refused (exit 1, says why)" \
    '[ $status -eq 1 ] && grep -q "CEM_PARAM_PRECOND needs the CEM target" err'
run train --data circle --steps 5 $small --adapt-floor 2 -o r.cem
check "train --adapt-floor 2 is refused with its bounds" \
    '[ $status -ne 0 ] && grep -q "adapt-floor" err'

run sample m.cem -n 300 -o s.csv
check "sample -n 300 writes 300 rows of 2 numbers" '[ $status -eq 0 ] && csv_shape s.csv 300 2'
run sample m.cem -n 300 --prior standard -o s0.csv
check "sample --prior standard starts elsewhere (other numbers)" \
    '[ $status -eq 0 ] && csv_shape s0.csv 300 2 && ! cmp -s s.csv s0.csv'

run eval s.csv --data circle
check "eval --data prints the mean distance" \
    '[ $status -eq 0 ] && grep -Eq "^distance mean +[0-9]" out'
check "eval --data prints every metric" \
    'has_lines out "distance p95" "distance max" "ks coordinate" "sliced w2" energy mmd2'

run sample --exact circle -n 200 -o exact.csv
check "sample --exact circle -n 200" '[ $status -eq 0 ] && csv_shape exact.csv 200 2'
run eval exact.csv --data circle
d=$(awk '/^distance mean/ { print $3 }' out)
check "the exact model's samples lie on the circle (mean distance $d < 0.01)" \
    '[ $status -eq 0 ] && below "$d" 0.01'

run eval exact.csv --data circle --json
check "eval --json prints one JSON object" \
    '[ $status -eq 0 ] && [ $(wc -l <out) -eq 1 ] && grep -Eq "^\{\"samples\":\"exact.csv\".*\"distance_mean\":[0-9].*\}$" out'

run eval exact.csv --data circle --max-points 50
check "eval --max-points says it subsamples" \
    '[ $status -eq 0 ] && grep -q "first 50 of 200 sample points" out'

run eval exact.csv --ref s.csv
check "eval --ref prints the two-sample metrics only" \
    '[ $status -eq 0 ] && grep -q "^sliced w2 " out && ! grep -q "^distance mean" out'

run sample --exact circle --dim 5 -n 100 -o exact5.csv
run eval exact5.csv --data circle
d5=$(awk '/^distance mean/ { print $3 }' out)
check "--dim 5 embeds the circle the same way in sample and eval ($d5 < 0.01)" \
    '[ $status -eq 0 ] && csv_shape exact5.csv 100 5 && below "$d5" 0.01'

run profile --data circle
slope=$(awk '/^ *t <= / { print $NF }' out)
check "profile --data circle: slope of S near -1 ($slope)" \
    '[ $status -eq 0 ] && below "$slope" -0.85 && below -1.15 "$slope"'
check "profile reports the probes' distance to the circle" \
    'grep -q "mean distance to the manifold 0\.0" out'

run profile m.cem --data circle --nt 3
check "profile of a trained model" '[ $status -eq 0 ] && grep -q "^  all  3 times" out'

# ---- the probability flow: logprob, encode, decode ------------------------------
run sample m.cem -n 50 --steps 20 --quiet -o pts.csv
run logprob m.cem -i pts.csv -o lp.csv --evals --quiet
check "logprob writes a log-density and an evaluation count per row" \
    '[ $status -eq 0 ] && csv_shape lp.csv 50 2 && [ ! -s err ]'
run logprob m.cem -i pts.csv -o lp1.csv --threads 2 --quiet
check "logprob: the same numbers at 2 threads" \
    '[ $status -eq 0 ] && [ "$(cut -d, -f1 lp.csv)" = "$(cat lp1.csv)" ]'
run encode m.cem -i pts.csv -o z.csv --rtol 1e-8 --atol 1e-8 --quiet
run decode m.cem -i z.csv -o back.csv --rtol 1e-8 --atol 1e-8 --quiet
worst=$(paste -d, pts.csv back.csv | awk -F, '{ for (j = 1; j <= 2; j++) { d = $j - $(j + 2); if (d < 0) d = -d; if (d > m) m = d } } END { print m + 0 }')
check "decode(encode(x)) = x ($worst < 1e-4)" '[ $status -eq 0 ] && csv_shape z.csv 50 2 && below "$worst" 1e-4'
run logprob m.cem -i pts.csv -o lp2.csv --max-steps 10 --rtol 1e-12 --atol 1e-12
check "logprob: rows that fail are nan, reported, exit 3" \
    '[ $status -eq 3 ] && grep -q "50 of 50 rows failed" err && grep -q nan lp2.csv'
run logprob m.cem -i exact5.csv -o x.csv
check "logprob of points of another dimension (exit 2)" \
    '[ $status -eq 2 ] && grep -q "has 5 columns" err'
run encode m.cem -i pts.csv -o x.csv --evals
check "encode --evals (exit 2)" '[ $status -eq 2 ] && grep -q "logprob only" err'
run logprob m.cem -i pts.csv -o x.csv --probes 0
check "logprob --probes 0: the library's bounds (exit 2)" \
    '[ $status -eq 2 ] && grep -q "outside \[1, 1024\]" err'

# ---- the torus, the knot, and placed datasets (--scale, --offset) --------------
run sample --exact torus -n 200 --quiet -o torus.csv
run eval torus.csv --data torus
d=$(awk '/^distance mean/ { print $3 }' out)
check "sample --exact torus lies on the torus ($d < 0.01)" '[ $status -eq 0 ] && below "$d" 0.01'
run sample --exact knot --dim 5 --n-data 2000 -n 200 --quiet -o knot5.csv
run eval knot5.csv --data knot
d=$(awk '/^distance mean/ { print $3 }' out)
check "sample --exact knot --dim 5 lies on the knot ($d < 0.01)" \
    '[ $status -eq 0 ] && csv_shape knot5.csv 200 5 && below "$d" 0.01'

run sample --exact circle --scale 50 --offset 100,-30 -n 200 --quiet -o placed.csv
check "sample --exact circle --scale 50 --offset 100,-30" \
    '[ $status -eq 0 ] && csv_shape placed.csv 200 2'
run eval placed.csv --data circle --scale 50 --offset 100,-30
d=$(awk '/^distance mean/ { print $3 }' out)
check "eval: the placed circle's samples lie on it ($d < 0.01)" '[ $status -eq 0 ] && below "$d" 0.01'
run eval placed.csv --data circle
d=$(awk '/^distance mean/ { print $3 }' out)
check "eval: ... and far from the unit circle ($d > 50)" '[ $status -eq 0 ] && below 50 "$d"'
run eval placed.csv --data circle --data-scale 50 --data-offset=100,-30
d2=$(awk '/^distance mean/ { print $3 }' out)
check "--data-scale and --data-offset are the same options ($d2)" \
    '[ $status -eq 0 ] && below "$d2" 0.01'
run profile --data circle --scale 2 --data-offset 1,1 --nt 3
check "profile --scale --data-offset (its --offset is the probes')" \
    '[ $status -eq 0 ] && grep -q "mean distance to the manifold 0\.0" out'
run sample --exact circle --offset 1,2,3 -n 5 -o x.csv
check "--offset with the wrong count (exit 2)" \
    '[ $status -eq 2 ] && grep -q -- "--offset: 3 numbers, but the data is in R^2" err'
run eval placed.csv --data circle --offset 1,abc
check "--offset with a non-number (exit 2)" '[ $status -eq 2 ] && grep -q "abc. is not a number" err'
run sample --exact circle --scale 0 -n 5 -o x.csv
check "--scale 0 (exit 2)" '[ $status -eq 2 ] && grep -q -- "--scale: 0 is outside" err'
run train --data s.csv --scale 2 -o x.cem
check "--scale with a CSV file (exit 2)" \
    '[ $status -eq 2 ] && grep -q -- "--scale applies to built-in datasets" err'
run train --data torrus -o x.cem
check "an unknown kind still errors (exit 2)" \
    '[ $status -eq 2 ] && grep -q "unknown dataset .torrus." err && grep -q "torus, knot" err'

# ---- checkpoint and resume: 30 + 30 steps give the 60-step model bitwise ------
run train --data circle --steps 30 $small --quiet --checkpoint ck.cem -o half.cem
check "train --checkpoint writes the trainer state" '[ $status -eq 0 ] && [ -s ck.cem ]'
run train --data circle --steps 60 $small --resume ck.cem -o resumed.cem
check "train --resume continues from step 30" \
    '[ $status -eq 0 ] && grep -q "trained steps 30 to 60" out'
check "30 steps + resume + 30 steps = 60 steps, byte for byte" 'cmp -s resumed.cem m.cem'
run train --data circle --steps 60 --width 32 --n 500 --resume ck.cem -o x.cem
check "--resume refuses a different architecture (exit 2)" \
    '[ $status -eq 2 ] && grep -q "differs from the checkpoint" err'
run train --data circle --steps 60 --n 400 --resume ck.cem -o x.cem
check "--resume refuses different data (exit 1)" '[ $status -eq 1 ] && grep -q data err'

# ---- CSV data ------------------------------------------------------------------
run train --data s.csv --steps 20 --width 8 --depth 1 --quiet -o csv.cem
check "train --data FILE.csv" '[ $status -eq 0 ] && [ -s csv.cem ]'
run sample --exact exact.csv -n 50 -o from_csv.csv
check "sample --exact FILE.csv" '[ $status -eq 0 ] && csv_shape from_csv.csv 50 2'

# ---- labels and imputation ---------------------------------------------------------
# two classes in a CSV label column (the last field), -1 unlabelled
awk 'BEGIN { for (i = 0; i < 300; i++) { a = 6.283185307 * i / 300; k = i % 2;
             x = k ? 0.3 + 0.1 * cos(a) : -0.5 + 0.1 * cos(a);
             printf "%.6f,%.6f,%d\n", x, 0.1 * sin(a), i % 7 == 6 ? -1 : k } }' >labelled.csv
run train --data labelled.csv --label-col 2 --steps 40 --width 16 --depth 2 --quiet -o l.cem
check "train --label-col makes a labelled model" '[ $status -eq 0 ] && [ -s l.cem ]'
run info l.cem
check "info shows the classes" '[ $status -eq 0 ] && grep -Eq "^classes +2 \(label embedding 16\)$" out'
run sample l.cem -n 20 --label 1 --guidance 2 --steps 20 -o l1.csv
check "sample --label --guidance writes the points" '[ $status -eq 0 ] && csv_shape l1.csv 20 2'
run sample l.cem -n 5 --label 2 -o x.csv
check "sample --label beyond the classes (exit 2)" \
    '[ $status -eq 2 ] && grep -q "CEM_MODEL_LABELS" err && [ ! -e x.csv ]'
run train --data circle --label-col 0 --steps 5 -o x.cem
check "--label-col on a built-in dataset (exit 2)" '[ $status -eq 2 ] && [ ! -e x.cem ]'
run train --data labelled.csv --label-col 2 --steps 20 --width 16 --depth 2 --quiet \
    --checkpoint lt.ckpt -o l20.cem
run train --data labelled.csv --label-col 2 --steps 40 --width 16 --depth 2 --quiet \
    --resume lt.ckpt -o l40.cem
check "a labelled run resumes (20 + 20 steps = 40, bitwise)" '[ $status -eq 0 ] && cmp -s l40.cem l.cem'
run train --data labelled.csv --steps 40 --resume lt.ckpt -o x.cem
check "resuming a labelled checkpoint without --label-col (exit 1, says how)" \
    '[ $status -eq 1 ] && grep -q "cem_trainer_load_labelled" err'
# the exact model of the circle: y = +-0.8 where x = 0.6 is known
awk 'BEGIN { for (i = 0; i < 40; i++) print "0.6," ; print ",0.8" }' >partial.csv
run impute --exact circle --n-data 2000 -i partial.csv --steps 100 -o done.csv
check "impute completes every row, the known coordinates as given" \
    '[ $status -eq 0 ] && csv_shape done.csv 41 2 && [ $(grep -c "^0.600000024," done.csv) -eq 40 ] && tail -1 done.csv | grep -q ",0.800000012$"'
check "impute: |y| near 0.8 on both sides" \
    '[ $(awk -F, "NR <= 40 && \$2 > 0.7 && \$2 < 0.9" done.csv | wc -l) -gt 5 ] &&
     [ $(awk -F, "NR <= 40 && \$2 < -0.7 && \$2 > -0.9" done.csv | wc -l) -gt 5 ] &&
     [ $(awk -F, "NR <= 40 && (\$2 > 0.9 || \$2 < -0.9 || (\$2 > -0.7 && \$2 < 0.7))" done.csv | wc -l) -eq 0 ]'
run impute l.cem -i partial.csv --label 0 --jumps 2 --steps 20 --method reconstruct -o x.csv
check "impute --method reconstruct with a label (exit 1, says why)" \
    '[ $status -eq 1 ] && grep -q "unlabelled rows only" err && [ ! -e x.csv ]'
run impute --exact circle -i partial.csv --integrator dpmpp_2m -o x.csv
check "impute with jumps and a multistep integrator (exit 1)" '[ $status -eq 1 ] && [ ! -e x.csv ]'
printf '1,2,3\n' >three.csv
run impute --exact circle -i three.csv -o x.csv
check "impute of a file of the wrong width (exit 2)" '[ $status -eq 2 ] && grep -q "3 columns" err'

# ---- help and version ------------------------------------------------------------
for sub in train sample eval profile info; do
    run "$sub" --help
    check "$sub --help prints its usage (exit 0)" \
        '[ $status -eq 0 ] && grep -q "^usage: cemdiff $sub" out && [ ! -s err ]'
done
run --help
check "cemdiff --help (exit 0)" '[ $status -eq 0 ] && grep -q "^usage: cemdiff COMMAND" out'
run help sample
check "cemdiff help sample (exit 0)" '[ $status -eq 0 ] && grep -q "^usage: cemdiff sample" out'
run help --help
check "cemdiff help --help prints the main usage (exit 0)" '[ $status -eq 0 ] && grep -q "^usage: cemdiff COMMAND" out'
run --version
check "cemdiff --version" '[ $status -eq 0 ] && grep -Eq "^cemdiff [0-9]+\.[0-9]+\.[0-9]+" out'

# ---- bad arguments: one line and a pointer to the help, exit 2 -------------------
run frobnicate
check "unknown subcommand (exit 2)" '[ $status -eq 2 ] && grep -q "unknown command .frobnicate." err'
run train --data circle --frobnicate -o x.cem
check "unknown flag (exit 2)" \
    '[ $status -eq 2 ] && grep -q "unknown option .--frobnicate." err &&
     grep -q "see .cemdiff train --help." err'
run sample m.cem -n abc -o x.csv
check "-n abc (exit 2)" '[ $status -eq 2 ] && grep -q "abc. is not a number" err'
run train --data circle --width 0 -o x.cem
check "out-of-range number (exit 2)" '[ $status -eq 2 ] && grep -q "outside" err'
run train --data circle --steps 2.5 -o x.cem
check "fractional count (exit 2)" '[ $status -eq 2 ] && grep -q "not a whole number" err'
run train --data circle --steps
check "missing value (exit 2)" '[ $status -eq 2 ] && grep -q "needs a value" err'
run train --data circle --steps 10
check "missing -o (exit 2)" '[ $status -eq 2 ] && grep -q -- "-o FILE is required" err'
run train --data circel -o x.cem
check "unknown dataset (exit 2)" '[ $status -eq 2 ] && grep -q "unknown dataset" err'
run train --data circle --target energy -o x.cem
check "unknown target (exit 2)" '[ $status -eq 2 ] && grep -q "not one of cem, noise, score" err'
run eval s.csv
check "eval with neither --data nor --ref (exit 2)" '[ $status -eq 2 ]'
check "bad arguments leave no model behind" '[ ! -e x.cem ]'

# ---- library failures: the library's message, exit 1 ------------------------------
run info missing.cem
check "missing model file (exit 1, names the file)" \
    '[ $status -eq 1 ] && grep -q "missing.cem" err'
run sample missing.cem -n 10 -o x.csv
check "sample from a missing model file (exit 1)" '[ $status -eq 1 ] && grep -q "missing.cem" err'
head -c 200 m.cem >truncated.cem 2>/dev/null || :
run info truncated.cem
check "truncated model file (exit 1, says truncated)" \
    '[ $status -eq 1 ] && grep -q truncated err'
printf '1,2\n3,4\n5\n7,8\n' >ragged.csv
run train --data ragged.csv --steps 5 -o x.cem
check "CSV with a ragged row (exit 1, names the line)" \
    '[ $status -eq 1 ] && grep -q "ragged.csv:3" err'
run eval ragged.csv --data circle
check "eval of a ragged CSV (exit 1)" '[ $status -eq 1 ] && grep -q "ragged.csv:3" err'

echo "check_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
