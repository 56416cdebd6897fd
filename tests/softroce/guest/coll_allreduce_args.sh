# The `rfab coll allreduce` runs of the mixed-stack test, shared by both ranks (sourced on host and guest),
# one per line: store port, expected table rows, arguments. Validation on (-c 1); sizes 8 B .. 2 MiB by x8,
# then odd element counts (1, 100001, 200001, 300001 floats); few iterations: the guest runs under TCG.
COLL_RUNS="29500 7 -b 8 -e 4M -f 8 -n 2 -w 1 -c 1 -d float -o sum
29501 4 -b 4 -e 1200004 -i 400000 -n 2 -w 1 -c 1 -d float -o sum"
