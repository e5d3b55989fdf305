// Sweep files: parsing, point generation from an index, ids, shards.
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "sim/sweep/sweep.hpp"

namespace clustercost {

namespace {

// More points than this is almost certainly a typo in a grid (and would not finish anyway).
constexpr std::size_t kMaxPoints = std::size_t{1} << 32;

// FNV-1a 64 (Fowler, Noll, Vo; IETF draft-eastlake-fnv): tiny, stable across platforms and
// library versions, which std::hash is not.
std::uint64_t fnv1a64(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

void check_path(const std::string& path, const std::string& file, const std::string& where) {
  if (path.empty()) throw InputError(file, where, "an override path must not be empty");
  if (path.find('=') != std::string::npos)
    throw InputError(file, where, "an override path must not contain '=': \"" + path + "\"");
}

}  // namespace

SweepPoint make_point(const Json& overrides) {
  // Sorted keys at every level (nlohmann::json is map-backed) make the canonical text.
  const nlohmann::json canonical = nlohmann::json::parse(overrides.dump());
  SweepPoint p;
  p.hash = fnv1a64(canonical.dump());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(p.hash));
  p.id = buf;
  p.overrides = Json::object();
  for (auto it = canonical.begin(); it != canonical.end(); ++it)
    p.overrides[it.key()] = Json::parse(it.value().dump());  // nested keys sorted too
  return p;
}

SweepPlan SweepPlan::load(const std::filesystem::path& file) {
  const Json j = load_json_file(file);
  return parse(j, file.string(), file.parent_path());
}

SweepPlan SweepPlan::parse(const Json& j, const std::string& file,
                           const std::filesystem::path& folder) {
  SweepPlan plan;
  plan.file_ = file;
  ObjectReader r(j, file, "");
  plan.name_ = r.string_or("name", std::filesystem::path(file).stem().string());
  r.string_or("description", "");
  const Json& base = r.required("base");
  if (base.is_string()) {
    std::filesystem::path p = base.get<std::string>();
    if (p.empty()) r.fail("base", "expected a scenario file path or an inline scenario object");
    if (p.is_relative()) p = folder / p;
    p = p.lexically_normal();
    plan.base_file_ = p.string();
    try {
      plan.base_ = load_json_file(p);
    } catch (const InputError& e) {
      throw InputError(file, "base", e.what());
    }
    if (!plan.base_.is_object())
      throw InputError(plan.base_file_, "", "expected a scenario object");
  } else if (base.is_object()) {
    plan.base_ = base;
    plan.base_file_ = file;
  } else {
    r.fail("base", "expected a scenario file path or an inline scenario object, got " +
                       describe_json(base));
  }

  std::set<std::string> axis_paths;  // paths set by grid and zip: each at most once
  auto claim = [&](const std::string& path, const std::string& where) {
    check_path(path, file, where);
    if (!axis_paths.insert(path).second)
      throw InputError(file, where, "\"" + path + "\" is already an axis of this sweep");
  };
  auto check_values = [&](const Json& v, const std::string& where) {
    if (!v.is_array() || v.empty())
      throw InputError(file, where, "expected a non-empty list of values, got " + describe_json(v));
  };

  if (const Json* set = r.find("set")) {
    if (!set->is_object()) r.fail("set", "expected an object {\"path\": value}");
    for (auto it = set->begin(); it != set->end(); ++it)
      check_path(it.key(), file, join_path("set", it.key()));
    plan.common_ = *set;
  }
  if (const Json* grid = r.find("grid")) {
    if (!grid->is_object()) r.fail("grid", "expected an object {\"path\": [values...]}");
    for (auto it = grid->begin(); it != grid->end(); ++it) {
      const std::string where = "grid[\"" + it.key() + "\"]";
      claim(it.key(), where);
      check_values(it.value(), where);
      Factor f;
      f.paths = {it.key()};
      for (const auto& v : it.value()) f.rows.push_back({v});
      plan.factors_.push_back(std::move(f));
    }
  }
  if (const Json* zip = r.find("zip")) {
    std::vector<std::pair<const Json*, std::string>> groups;
    if (zip->is_object()) {
      groups.push_back({zip, "zip"});
    } else if (zip->is_array()) {
      for (std::size_t i = 0; i < zip->size(); ++i) groups.push_back({&(*zip)[i], index_path("zip", i)});
    } else {
      r.fail("zip", "expected an object {\"path\": [values...]} or a list of them");
    }
    for (const auto& [g, gpath] : groups) {
      if (!g->is_object() || g->empty())
        throw InputError(file, gpath, "expected a non-empty object {\"path\": [values...]}");
      Factor f;
      std::size_t len = 0;
      for (auto it = g->begin(); it != g->end(); ++it) {
        const std::string where = gpath + "[\"" + it.key() + "\"]";
        claim(it.key(), where);
        check_values(it.value(), where);
        if (f.paths.empty()) len = it.value().size();
        else if (it.value().size() != len)
          throw InputError(file, where, "zipped lists must have the same length: " +
                                            std::to_string(it.value().size()) + " values, the first list has " +
                                            std::to_string(len));
        f.paths.push_back(it.key());
      }
      f.rows.resize(len);
      for (auto it = g->begin(); it != g->end(); ++it)
        for (std::size_t i = 0; i < len; ++i) f.rows[i].push_back(it.value()[i]);
      plan.factors_.push_back(std::move(f));
    }
  }
  for (const auto& path : axis_paths)
    if (plan.common_.contains(path))
      throw InputError(file, join_path("set", path), "\"" + path + "\" is also a sweep axis");
  if (const Json* points = r.find("points")) {
    if (!points->is_array()) r.fail("points", "expected a list of objects {\"path\": value}");
    for (std::size_t i = 0; i < points->size(); ++i) {
      const Json& p = (*points)[i];
      const std::string where = index_path("points", i);
      if (!p.is_object()) throw InputError(file, where, "expected an object {\"path\": value}");
      for (auto it = p.begin(); it != p.end(); ++it) check_path(it.key(), file, join_path(where, it.key()));
      plan.explicit_.push_back(p);
    }
  }
  r.finish();

  if (plan.factors_.empty()) {
    plan.product_ = plan.explicit_.empty() ? 1 : 0;  // no axes, no points: the base itself
  } else {
    plan.product_ = 1;
    for (const auto& f : plan.factors_) {
      if (plan.product_ > kMaxPoints / f.rows.size())
        throw InputError(file, "grid", "the sweep has more than " + std::to_string(kMaxPoints) +
                                           " points");
      plan.product_ *= f.rows.size();
    }
  }
  return plan;
}

SweepPoint SweepPlan::point(std::size_t index) const {
  Json o = common_;
  if (index < product_) {
    // Mixed radix, the first factor most significant: the grid reads in declaration order.
    std::size_t rest = index;
    for (std::size_t f = factors_.size(); f-- > 0;) {
      const Factor& fac = factors_[f];
      const std::size_t row = rest % fac.rows.size();
      rest /= fac.rows.size();
      for (std::size_t k = 0; k < fac.paths.size(); ++k) o[fac.paths[k]] = fac.rows[row][k];
    }
  } else {
    const Json& p = explicit_.at(index - product_);
    for (auto it = p.begin(); it != p.end(); ++it) o[it.key()] = it.value();
  }
  return make_point(o);
}

Json SweepPlan::scenario_document(const SweepPoint& p) const {
  Json doc = base_;
  for (auto it = p.overrides.begin(); it != p.overrides.end(); ++it)
    apply_override(doc, it.key() + "=" + it.value().dump());
  return doc;
}

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  auto number = [&](std::string_view s, std::size_t& out) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
  };
  Shard s;
  if (slash == std::string::npos || !number(std::string_view(text).substr(0, slash), s.k) ||
      !number(std::string_view(text).substr(slash + 1), s.n) || s.n == 0 || s.k == 0 || s.k > s.n)
    throw InputError("--shard", "", "expected K/N with 1 <= K <= N, got \"" + text + "\"");
  return s;
}

std::optional<Shard> shard_from_slurm(const char* task_id, const char* task_min,
                                      const char* task_count) {
  if (!task_id || !task_count || !*task_id || !*task_count) return std::nullopt;
  auto number = [](const char* name, const char* v) {
    long long out = 0;
    const std::string_view s(v);
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || ptr != s.data() + s.size() || out < 0)
      throw InputError(name, "", std::string("expected a non-negative integer, got \"") + v + "\"");
    return out;
  };
  const long long id = number("SLURM_ARRAY_TASK_ID", task_id);
  const long long lo = task_min && *task_min ? number("SLURM_ARRAY_TASK_MIN", task_min) : 0;
  const long long count = number("SLURM_ARRAY_TASK_COUNT", task_count);
  const long long k = id - lo + 1;
  if (count < 1 || k < 1 || k > count)
    throw InputError("SLURM_ARRAY_TASK_ID", "",
                     "task " + std::to_string(id) + " (min " + std::to_string(lo) + ") is not one of " +
                         std::to_string(count) + " array tasks; a sweep needs a contiguous array "
                         "such as --array=1-N, or pass --shard K/N");
  return Shard{static_cast<std::size_t>(k), static_cast<std::size_t>(count)};
}

}  // namespace clustercost
