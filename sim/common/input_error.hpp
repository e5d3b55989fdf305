#pragma once
/// Errors in user input (scenario, model, catalogue, measurement files, command-line overrides).
/// Every such error names the file, the JSON path inside it and what was expected; the CLI maps
/// InputError to exit code 2 and writes no output file.

#include <stdexcept>
#include <string>

namespace clustercost {

class InputError : public std::runtime_error {
 public:
  /// file: the file (or "--set", "<inline>"); json_path: dotted path such as
  /// "parallelism.tp" or "cluster.pools[1].count" (empty for the whole document).
  InputError(std::string file, std::string json_path, std::string message);

  const std::string& file() const { return file_; }
  const std::string& json_path() const { return json_path_; }
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  std::string json_path_;
  std::string message_;
};

/// An input that is well-formed but describes something that cannot run: TP not dividing heads,
/// a model that does not fit in HBM when fitting is required, and so on. Also exit code 2.
class InfeasibleError : public InputError {
 public:
  using InputError::InputError;
};

}  // namespace clustercost
