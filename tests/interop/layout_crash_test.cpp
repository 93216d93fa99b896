// Issue 10 items 3 and 4 in the default suite (label interop: pull needs Debian's
// docker-registry): `ocipipe pull|pack|copy|tag|rm|gc` killed with SIGKILL at seeded random
// moments, and two and four processes changing one layout at once
// (tests/support/layout_stress.h says what each trial checks).
//
// Kills: REDUCED here, 12 per verb (about 35 s for the six verbs on 2 cores); the issue's
// full 50 per verb (about 2 minutes) run in tests/slow/layout_crash_full_test.cpp
// (scripts/test-slow.sh). Concurrency: the FULL 100 rounds for two and for four
// processes run here (about 14 s and 27 s); the slow suite runs 200.
// Both read OCIPIPE_CRASH_TRIALS, OCIPIPE_STRESS_ROUNDS and OCIPIPE_STRESS_SEED; a failure
// prints its seed, trial and kill delay, and OCIPIPE_STRESS_SEED=<seed> replays it.
#include <gtest/gtest.h>

#include "tests/support/layout_stress.h"

namespace ocipipe::testing {
namespace {

constexpr int kDefaultTrials = 12;   // reduced; the slow suite runs the full 50
constexpr int kDefaultRounds = 100;  // full (issue 10 item 4); the slow suite runs 200

using LayoutCrashSafety = layout_stress_suite<kDefaultTrials, kDefaultRounds>;

TEST_F(LayoutCrashSafety, KilledPullLeavesValidLayoutAndRerunResumes) { crash(crash_verb::pull); }
TEST_F(LayoutCrashSafety, KilledPackLeavesValidLayoutAndRerunCompletes) { crash(crash_verb::pack); }
TEST_F(LayoutCrashSafety, KilledCopyLeavesValidLayoutAndRerunCompletes) { crash(crash_verb::copy); }
TEST_F(LayoutCrashSafety, KilledTagLeavesOldOrNewTag) { crash(crash_verb::tag); }
TEST_F(LayoutCrashSafety, KilledRmBlobsLeavesValidLayout) { crash(crash_verb::rm); }
TEST_F(LayoutCrashSafety, KilledGcLeavesValidLayoutAndRerunCollects) { crash(crash_verb::gc); }

TEST_F(LayoutCrashSafety, TwoProcessesTagPackPullGcWithoutLoss) { concurrent(2); }
TEST_F(LayoutCrashSafety, FourProcessesTagPackPullGcWithoutLoss) { concurrent(4); }

}  // namespace
}  // namespace ocipipe::testing
