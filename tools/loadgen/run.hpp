// One load run: connect, warm up, measure, drain, in a runtime of its own;
// used by the plain command and by each round of the compare subcommand.
#pragma once

#include "options.hpp"
#include "report.hpp"

namespace loadgen {

/// Runs the load `opts` describes against opts.address and fills `out`
/// (figures merged over the shards, the per-second timeline, the generator
/// threads' busy shares). Prints the progress line unless opts.progress is
/// false; prints nothing else. Returns 0 when every request was answered
/// correctly, 1 on any error or when interrupted (SIGINT/SIGTERM end the run
/// early; `out` then covers the run up to the signal), with the first error
/// in out.first_error and a message on stderr when nothing could be measured.
/// Throws std::runtime_error when io_uring is unavailable.
int run_load(const options& opts, summary& out);

/// Writes what opts.json / csv / hgrm / plot ask for; false if one failed.
bool write_outputs(const options& opts, const summary& s);

}  // namespace loadgen
