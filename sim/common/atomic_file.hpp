#pragma once
/// Files the tool writes are written atomically: a temporary file in the same directory, then a
/// rename, so a crash or a kill never leaves a partial report behind.

#include <filesystem>
#include <string_view>

namespace clustercost {

/// Writes `content` to `path` atomically; throws std::runtime_error naming the path on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace clustercost
