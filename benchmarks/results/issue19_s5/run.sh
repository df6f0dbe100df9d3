#!/bin/bash
# Quiet-window benchmark for issue 19 closing: before (6e4523a, session-5 start) vs after (HEAD).
set -u
cd /work/main
. .venv/bin/activate
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg
OUT=/work/runs/s5bench; mkdir -p $OUT
[ -d /tmp/lead_s5before ] || git worktree add -f /tmp/lead_s5before 6e4523a -q
B=/tmp/lead_head/benchmarks/bench_stages.py
run() { # label pythonpath scales repeats
  (cd /tmp && PYTHONPATH=$2 python $B --scales $3 --repeats $4 --label $1 --out $OUT/$1_$3_$5 > $OUT/$1_$3_$5.log 2>&1)
  echo "$(date +%T) done $1 $3 $5 (load $(cut -d' ' -f1 /proc/loadavg))"
}
echo "start $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
run before /tmp/lead_s5before 1 1 a
run after /tmp/lead_head 1 1 a
run before /tmp/lead_s5before 1 1 b
run after /tmp/lead_head 1 1 b
run before /tmp/lead_s5before 0.25,3 1 a
run after /tmp/lead_head 0.25,3 1 a
run after /tmp/lead_head 0.25,3 1 b
# the demo, wall clock, before/after twice
for i in 1 2; do
  for v in before after; do
    if [ $v = before ]; then PP=/tmp/lead_s5before; else PP=/tmp/lead_head; fi
    rm -rf /tmp/lead_demo_$v
    ( cd /tmp && PYTHONPATH=$PP /usr/bin/time -f "%e s wall %U user %S sys %M KB" python -m apcfair demo -q --out /tmp/lead_demo_$v ) > $OUT/demo_${v}_$i.log 2>&1
    echo "$(date +%T) demo $v $i: $(tail -1 $OUT/demo_${v}_$i.log)"
  done
done
run after /tmp/lead_head 10 1 a
run after /tmp/lead_head 10 1 b
run before /tmp/lead_s5before 10 1 a
echo "end $(date +%T)"
