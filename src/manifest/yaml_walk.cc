#include "util/strings.h"
#include "manifest/yaml_walk.h"

#include <algorithm>

namespace ecert {
namespace {

bool is_decimal(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_plain(const yaml::Node& node) { return node.Tag() != "!"; }


std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

SourcePos Walker::pos(const YAML::Mark& mark) const {
  if (mark.is_null()) return {file_, 0, 0};
  return {file_, mark.line + 1, mark.column + 1};
}

void Walker::error(const SourcePos& at, std::string message) {
  diags_.push_back({at, std::move(message), Diagnostic::Severity::kError});
}

void Walker::warning(const SourcePos& at, std::string message) {
  diags_.push_back({at, std::move(message), Diagnostic::Severity::kWarning});
}

bool Walker::within_expansion_bound(const yaml::Node& node) { return count(node, 0); }

bool Walker::count(const yaml::Node& node, int depth) {
  if (++nodes_ > kMaxManifestNodes || depth > kMaxExpandedDepth) return false;
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      if (!count(it->first, depth + 1) || !count(it->second, depth + 1)) return false;
  } else if (node.IsSequence()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      if (!count(*it, depth + 1)) return false;
  }
  return true;
}

const char* describe(const yaml::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return "an empty value";
    case YAML::NodeType::Scalar: break;
  }
  if (is_plain(node)) {
    const std::string& s = node.Scalar();
    if (is_decimal(s)) return "a number";
    if (s == "true" || s == "false") return "a boolean";
  }
  return "a string";
}

std::string closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string best;
  std::size_t best_distance = 3;
  std::size_t limit = std::max<std::size_t>(1, std::min<std::size_t>(2, word.size() / 3));
  for (std::string_view c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d <= limit && d < best_distance) {
      best_distance = d;
      best = std::string(c);
    }
  }
  return best;
}

MapReader::MapReader(Walker& w, const yaml::Node& map, std::string_view where,
                     const std::vector<std::string_view>& allowed,
                     const std::vector<Hint>& misplaced) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    yaml::Node key = it->first;  // it-> yields a temporary proxy: copy, never bind
    SourcePos key_pos = w.pos(key);
    if (!key.IsScalar()) {
      w.error(key_pos, "keys in " + std::string(where) + " must be plain words, not " +
                           describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    auto first = std::find_if(entries_.begin(), entries_.end(),
                              [&](const Entry& e) { return e.key == name; });
    if (first != entries_.end()) {
      w.error(key_pos, "duplicate key " + squote(name) + " (first at line " +
                           std::to_string(first->key_pos.line) + ")");
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string msg = "unknown key " + squote(name) + " in " + std::string(where);
      auto hint = std::find_if(misplaced.begin(), misplaced.end(),
                               [&](const Hint& h) { return h.key == name; });
      if (hint != misplaced.end()) {
        msg += "; " + std::string(hint->message);
      } else if (std::string guess = closest(name, allowed); !guess.empty()) {
        msg += "; did you mean " + squote(guess) + "?";
      } else {
        std::string list;
        for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        msg += "; expected one of: " + list;
      }
      w.error(key_pos, std::move(msg));
      // Remember it anyway so a second occurrence is still a duplicate.
    }
    bool known = std::find(allowed.begin(), allowed.end(), name) != allowed.end();
    entries_.push_back({name, key, it->second, key_pos, known});
  }
}

const Entry* MapReader::find(std::string_view key) const {
  for (const Entry& e : entries_)
    if (e.key == key && e.known) return &e;
  return nullptr;
}

std::optional<std::string> read_string(Walker& w, const Entry& e, std::string_view label,
                                       std::string_view expected) {
  if (e.value.IsNull()) {
    w.error(e.key_pos, "empty value for " + squote(label) + "; expected " + std::string(expected));
    return std::nullopt;
  }
  if (!e.value.IsScalar()) {
    w.error(w.pos(e.value), squote(label) + " must be " + std::string(expected) + ", not " +
                                describe(e.value));
    return std::nullopt;
  }
  return e.value.Scalar();
}

std::optional<long long> read_int(Walker& w, const Entry& e, std::string_view label,
                                  long long min, long long max, std::string_view expected_text) {
  std::string expected =
      expected_text.empty()
          ? "an integer from " + std::to_string(min) + " to " + std::to_string(max)
          : std::string(expected_text);
  if (e.value.IsNull()) {
    w.error(e.key_pos, "empty value for " + squote(label) + "; expected " + expected);
    return std::nullopt;
  }
  if (!e.value.IsScalar()) {
    w.error(w.pos(e.value), squote(label) + " must be " + expected + ", not " + describe(e.value));
    return std::nullopt;
  }
  const std::string& s = e.value.Scalar();
  if (!is_plain(e.value)) {
    w.error(w.pos(e.value), squote(label) + " must be " + expected + ", not the string " +
                                squote(s) + "; remove the quotes");
    return std::nullopt;
  }
  if (!is_decimal(s)) {
    w.error(w.pos(e.value), squote(label) + " must be " + expected + ", got " + squote(s));
    return std::nullopt;
  }
  long long v = std::stoll(s);
  if (v < min || v > max) {
    w.error(w.pos(e.value), squote(label) + " must be " + expected + ", got " + s);
    return std::nullopt;
  }
  return v;
}

std::optional<std::size_t> read_enum(Walker& w, const Entry& e, std::string_view label,
                                     const std::vector<std::string_view>& values) {
  std::string list;
  for (std::size_t i = 0; i < values.size(); ++i)
    list += (i == 0 ? "" : i + 1 == values.size() ? " or " : ", ") + std::string(values[i]);
  auto text = read_string(w, e, label, list);
  if (!text) return std::nullopt;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (*text == values[i]) return i;
  std::string msg = squote(label) + " must be " + list + ", got " + squote(*text);
  if (std::string guess = closest(*text, values); !guess.empty())
    msg += "; did you mean " + squote(guess) + "?";
  w.error(w.pos(e.value), std::move(msg));
  return std::nullopt;
}

std::optional<bool> read_bool(Walker& w, const Entry& e, std::string_view label) {
  auto text = read_string(w, e, label, "true or false");
  if (!text) return std::nullopt;
  if (is_plain(e.value)) {
    if (*text == "true" || *text == "True" || *text == "TRUE") return true;
    if (*text == "false" || *text == "False" || *text == "FALSE") return false;
  }
  w.error(w.pos(e.value), squote(label) + " must be true or false, " +
                              (is_plain(e.value) ? "got " + squote(*text)
                                                 : "not the string " + squote(*text) +
                                                       "; remove the quotes"));
  return std::nullopt;
}

std::optional<std::vector<std::string>> read_argv(Walker& w, const yaml::Node& node,
                                                  const SourcePos& empty_at,
                                                  std::string_view label,
                                                  std::string_view example) {
  const std::string expected = "a non-empty list of strings, e.g. " + std::string(example);
  if (node.IsNull()) {
    w.error(empty_at, "empty value for " + squote(label) + "; expected " + expected);
    return std::nullopt;
  }
  if (!node.IsSequence() || node.size() == 0) {
    w.error(w.pos(node), squote(label) + " must be " + expected + ", not " +
                             (node.IsSequence() ? "an empty list" : describe(node)));
    return std::nullopt;
  }
  std::vector<std::string> argv;
  bool ok = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    yaml::Node arg = *it;
    if (!arg.IsScalar() || arg.Scalar().empty()) {
      w.error(w.pos(arg), "each argument in " + squote(label) + " must be a non-empty string, not " +
                              (arg.IsScalar() ? "an empty string" : describe(arg)));
      ok = false;
      continue;
    }
    argv.push_back(arg.Scalar());
  }
  if (!ok) return std::nullopt;
  return argv;
}

std::optional<std::vector<TextAt>> read_string_list(Walker& w, const Entry& e,
                                                    std::string_view label,
                                                    std::string_view expected,
                                                    std::string_view item) {
  if (!expect_list(w, e, label, expected)) return std::nullopt;
  std::vector<TextAt> items;
  bool ok = true;
  for (auto it = e.value.begin(); it != e.value.end(); ++it) {
    yaml::Node n = *it;
    if (!n.IsScalar()) {
      w.error(w.pos(n), "each entry of " + squote(label) + " must be " + std::string(item) +
                            ", not " + describe(n));
      ok = false;
      continue;
    }
    items.push_back({n.Scalar(), w.pos(n)});
  }
  if (!ok) return std::nullopt;
  return items;
}

bool check_no_duplicates(Walker& w, const std::vector<TextAt>& items, std::string_view label,
                         const std::function<std::string(const std::string&)>& same_as) {
  std::vector<std::pair<std::string, const TextAt*>> seen;
  bool ok = true;
  for (const TextAt& item : items) {
    std::string key = same_as ? same_as(item.text) : item.text;
    auto first = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == key; });
    if (first == seen.end()) {
      seen.emplace_back(std::move(key), &item);
      continue;
    }
    const TextAt& earlier = *first->second;
    w.error(item.pos, squote(label) + " lists " + squote(item.text) + " twice (first " +
                          (earlier.text == item.text ? "" : "as " + squote(earlier.text) + " ") +
                          "at line " + std::to_string(earlier.pos.line) + ")");
    ok = false;
  }
  return ok;
}

namespace {

// Reports a value of the wrong kind (or an empty one) for expect_map/expect_list.
bool wrong_kind(Walker& w, const Entry& e, std::string_view label, std::string_view expected) {
  if (e.value.IsNull())
    w.error(e.key_pos, "empty value for " + squote(label) + "; expected " + std::string(expected));
  else
    w.error(w.pos(e.value), squote(label) + " must be " + std::string(expected) + ", not " +
                                describe(e.value));
  return false;
}

}  // namespace

bool expect_map(Walker& w, const Entry& e, std::string_view label, std::string_view expected) {
  return e.value.IsMap() || wrong_kind(w, e, label, expected);
}

bool expect_list(Walker& w, const Entry& e, std::string_view label, std::string_view expected) {
  return e.value.IsSequence() || wrong_kind(w, e, label, expected);
}

}  // namespace ecert
