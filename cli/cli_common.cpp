#include "cli/cli_common.hpp"


#include "sim/common/atomic_file.hpp"
#include "sim/common/input_error.hpp"

#ifndef CLUSTERCOST_DEFAULT_DATA_DIR
#define CLUSTERCOST_DEFAULT_DATA_DIR "."
#endif

namespace clustercost::cli {

DataDirs data_dirs() {
  return data_dirs_from_environment(CLUSTERCOST_DEFAULT_DATA_DIR);
}

void emit(const std::string& output, const std::string& content) {
  if (output.empty() || output == "-") {
    std::cout << content;
    std::cout.flush();
  } else {
    write_file_atomically(output, content);
  }
}

int guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace clustercost::cli
