#pragma once
// `clustercost calibrate` and the per-kernel check of a profile against probe measurements
// (wired into `clustercost validate --measurements FILE [--profile FILE]` by main.cpp).

#include <string>

#include "cli/commands.hpp"

namespace clustercost::cli {

/// clustercost calibrate MEASUREMENTS.json -o profile.json
Action add_calibrate_command(CLI::App& app);

/// Prints, per measured kernel, the measured time and the predictions (and errors) of the
/// default profile (the shipped one of the catalogue GPU, else the neutral struct defaults) and
/// of the calibrated one (`profile`, or fitted on the fly from the same file when empty), then
/// the MAPE of both. `format` is "text" or "json"; `output` empty or "-" is stdout.
/// Returns the exit code (2 for bad input, with the message on stderr).
int validate_measurements(const std::string& measurements, const std::string& profile,
                          const std::string& format, const std::string& output);

}  // namespace clustercost::cli
