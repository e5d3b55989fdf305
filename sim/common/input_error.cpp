#include "sim/common/input_error.hpp"

namespace clustercost {

namespace {
std::string compose(const std::string& file, const std::string& path, const std::string& msg) {
  std::string s = file.empty() ? std::string("<input>") : file;
  if (!path.empty()) s += ": at " + path;
  s += ": " + msg;
  return s;
}
}  // namespace

InputError::InputError(std::string file, std::string json_path, std::string message)
    : std::runtime_error(compose(file, json_path, message)),
      file_(std::move(file)),
      json_path_(std::move(json_path)),
      message_(std::move(message)) {}

}  // namespace clustercost
