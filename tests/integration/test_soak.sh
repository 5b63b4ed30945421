#!/bin/bash
# test_soak: bench/soak.sh -d 120, the CI variant of issue 14's soak with
# faults (see bench/soak.sh for the load, the faults and the conditions).
# kuproxy serves steady TCP and UDP load from the API (fakeapi.py) and
# then from a services file while a backend is killed and restarted,
# endpoints churn every second, the API server restarts, the portal
# chains are flushed from outside, and (API phase) the fd limit is
# lowered under a flood.  soak.sh asserts, per phase: no failure except
# on the killed backend or inside the fd window, no stream corrupted,
# accepts paused and recovered, fds back to the baseline, RSS within 10%
# of it, every rule as the model gives it.  This test runs it, shows its
# assertions, and checks that its figures are not vacuous.
# kp-timeout: 420
. "$(dirname "$0")/lib.sh"
kp_init soak_ci
out=$KP_TMP/soak.json
bash "$KP_SRCDIR/bench/soak.sh" -d "${KP_SOAK_SECS:-120}" -o "$out"
rc=$?
[ "$rc" = 77 ] && { echo "SKIP: soak_ci (soak.sh skipped)"; exit 77; }
kp_eq "bench/soak.sh passed every check" 0 "$rc"
[ -s "$out" ] || kp_die "no figures from bench/soak.sh"
kp_eq "two phases (api, file)" '["api", "file"]' \
    "$(kp_json '[p["phase"] for p in d["phases"]]' <"$out")"
kp_eq "no failure outside the excused ones, both phases" 0 \
    "$(kp_json 'sum(p["failed_hard"] for p in d["phases"])' <"$out")"
kp_ge "API phase: accepts paused in the fd window" 1 \
    "$(kp_json 'd["phases"][0]["fd_pauses"]' <"$out")"
kp_ge "API phase: the API server restarted" 1 \
    "$(kp_json 'd["phases"][0]["api_restarts"]' <"$out")"
kp_ge "flushes repaired, in each phase" 1 \
    "$(kp_json 'min(len(p["repair_ms"]) for p in d["phases"])' <"$out")"
kp_ge "connections to the killed backend broke (the kill was real)" 1 \
    "$(kp_json 'sum(p["failed_on_killed_backend"] for p in d["phases"])' <"$out")"
kp_finish
