// Results files (JSON Lines): scanning, repairing a torn last line, whole-line appends, merging.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "sim/common/atomic_file.hpp"
#include "sim/sweep/sweep.hpp"

namespace clustercost {

namespace {

std::string sys_error(const std::string& what, const std::filesystem::path& file) {
  return what + " " + file.string() + ": " + std::strerror(errno);
}

}  // namespace

ResultsScan scan_results(const std::filesystem::path& file, bool keep_docs) {
  ResultsScan scan;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string(), "", "cannot open the results file");
  std::string line;
  std::size_t number = 0;
  std::uintmax_t offset = 0;
  while (std::getline(in, line)) {
    ++number;
    if (in.eof()) {  // no newline after it: a write that did not complete
      scan.torn_bytes = line.size();
      break;
    }
    offset += line.size() + 1;
    if (line.empty()) {  // tolerate blank lines (hand edits); they carry nothing
      scan.valid_bytes = offset;
      continue;
    }
    const std::string label = "line " + std::to_string(number);
    Json doc;
    try {
      doc = Json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(file.string(), label, std::string("not valid JSON: ") + e.what());
    }
    if (!doc.is_object() || !doc.contains("id") || !doc["id"].is_string())
      throw InputError(file.string(), label, "expected an object with a string \"id\"");
    ResultLine r;
    r.id = doc["id"].get<std::string>();
    r.text = std::move(line);
    if (keep_docs) r.doc = std::move(doc);
    scan.lines.push_back(std::move(r));
    scan.valid_bytes = offset;
  }
  return scan;
}

std::uintmax_t repair_results(const std::filesystem::path& file) {
  const ResultsScan scan = scan_results(file, false);
  if (scan.torn_bytes == 0) return 0;
  if (::truncate(file.c_str(), static_cast<off_t>(scan.valid_bytes)) != 0)
    throw std::runtime_error(sys_error("cannot repair", file));
  return scan.torn_bytes;
}

struct ResultsAppender::Impl {
  std::filesystem::path file;
  int fd = -1;
  std::mutex mutex;
  double sync_interval_s = 1.0;
  std::chrono::steady_clock::time_point last_sync = std::chrono::steady_clock::now();
  bool dirty = false;  // lines written since the last sync
};

ResultsAppender::ResultsAppender(const std::filesystem::path& file, double sync_interval_s)
    : impl_(new Impl) {
  impl_->file = file;
  impl_->sync_interval_s = sync_interval_s;
  impl_->fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (impl_->fd < 0) {
    const std::string msg = sys_error("cannot open", file);
    delete impl_;
    throw std::runtime_error(msg);
  }
}

ResultsAppender::~ResultsAppender() {
  if (impl_->fd >= 0) {
    if (impl_->dirty) (void)::fdatasync(impl_->fd);
    ::close(impl_->fd);
  }
  delete impl_;
}

void ResultsAppender::sync() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->fd < 0) throw std::runtime_error("cannot sync " + impl_->file.string() + ": closed");
  if (::fdatasync(impl_->fd) != 0) throw std::runtime_error(sys_error("cannot sync", impl_->file));
  impl_->dirty = false;
  impl_->last_sync = std::chrono::steady_clock::now();
}

void ResultsAppender::close() {
  if (impl_->fd < 0) return;
  sync();
  std::lock_guard lock(impl_->mutex);
  if (::close(impl_->fd) != 0) {
    impl_->fd = -1;
    throw std::runtime_error(sys_error("cannot close", impl_->file));
  }
  impl_->fd = -1;
}

void ResultsAppender::append(const std::string& line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf += line;
  buf += '\n';
  std::lock_guard lock(impl_->mutex);
  if (impl_->fd < 0) throw std::runtime_error("cannot append to " + impl_->file.string() + ": closed");
  const off_t start = ::lseek(impl_->fd, 0, SEEK_END);
  const char* p = buf.data();
  std::size_t left = buf.size();
  while (left > 0) {
    const ssize_t n = ::write(impl_->fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string msg = sys_error("cannot append to", impl_->file);
      // Leave no partial line behind (disk full): the next resume would cut it anyway.
      if (start >= 0 && ::ftruncate(impl_->fd, start) != 0) {
        // best effort: a resume cuts a torn last line anyway
      }
      throw std::runtime_error(msg);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  impl_->dirty = true;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - impl_->last_sync).count() < impl_->sync_interval_s) return;
  if (::fdatasync(impl_->fd) != 0) throw std::runtime_error(sys_error("cannot sync", impl_->file));
  impl_->dirty = false;
  impl_->last_sync = now;
}

std::vector<ResultLine> merge_results(const std::vector<std::filesystem::path>& files,
                                      std::size_t* torn_lines) {
  std::map<std::string, std::pair<ResultLine, std::string>> by_id;  // id → (line, its file)
  std::size_t torn = 0;
  for (const auto& f : files) {
    ResultsScan scan = scan_results(f, false);
    if (scan.torn_bytes > 0) ++torn;
    for (auto& line : scan.lines) {
      const std::string id = line.id;
      auto [it, inserted] = by_id.try_emplace(id, std::move(line), f.string());
      if (!inserted && it->second.first.text != line.text)
        throw InputError(f.string(), "id " + it->first,
                         "differs from the line with the same id in " + it->second.second +
                             " (results from different versions or data cannot be merged)");
    }
  }
  if (torn_lines) *torn_lines = torn;
  std::vector<ResultLine> out;
  out.reserve(by_id.size());
  for (auto& [id, entry] : by_id) out.push_back(std::move(entry.first));
  return out;
}

ResumeState prepare_results(const std::filesystem::path& file, bool resume) {
  ResumeState state;
  std::error_code ec;
  const bool exists = std::filesystem::exists(file, ec);
  if (exists && !resume && std::filesystem::file_size(file, ec) > 0)
    throw InputError(file.string(), "",
                     "the results file exists: pass --resume to continue it, or remove it");
  if (!exists || !resume) return state;
  state.repaired_bytes = repair_results(file);
  for (auto& line : scan_results(file, true).lines) {
    // A failed point runs again: the base scenario or the data may have been fixed since.
    if (line.doc.contains("error")) state.failed.insert(std::move(line.id));
    else state.done.insert(std::move(line.id));
  }
  // An error line followed by its rerun's report (a resume interrupted before the file was put
  // in order) is done.
  std::erase_if(state.failed, [&](const std::string& id) { return state.done.count(id) > 0; });
  return state;
}

OrderedResults order_results(const SweepPlan& plan, const std::filesystem::path& file) {
  ResultsScan scan = scan_results(file, true);
  // The last line of each id wins: a rerun's line follows the error line it replaces.
  std::map<std::string, std::size_t> last;  // id → index into scan.lines
  for (std::size_t i = 0; i < scan.lines.size(); ++i) last[scan.lines[i].id] = i;
  std::map<std::string, std::size_t> rank;  // id → first point index
  for (std::size_t i = 0; i < plan.size() && rank.size() < last.size(); ++i) {
    const std::string id = plan.point(i).id;
    if (last.count(id)) rank.try_emplace(id, i);
  }
  std::vector<std::pair<std::size_t, std::string>> order;  // (point index or max, id)
  order.reserve(last.size());
  for (const auto& [id, i] : last) {
    const auto it = rank.find(id);
    order.emplace_back(it == rank.end() ? static_cast<std::size_t>(-1) : it->second, id);
  }
  std::sort(order.begin(), order.end());
  OrderedResults out;
  std::string text;
  for (const auto& [index, id] : order) {
    ResultLine& line = scan.lines[last.at(id)];
    auto f = failure_of(line.doc);
    if (f && index == static_cast<std::size_t>(-1)) {
      // The failure of a point the sweep no longer has (its typo was fixed, which changed the
      // id): nothing to rerun, and kept it would fail the sweep forever.
      ++out.dropped_stale_errors;
      continue;
    }
    if (f) out.failures.push_back(std::move(*f));
    text += line.text;
    text += '\n';
    ++out.lines;
  }
  write_file_atomically(file, text);
  return out;
}

std::string results_text(const std::vector<ResultLine>& lines) {
  std::size_t n = 0;
  for (const auto& l : lines) n += l.text.size() + 1;
  std::string out;
  out.reserve(n);
  for (const auto& l : lines) {
    out += l.text;
    out += '\n';
  }
  return out;
}

}  // namespace clustercost
