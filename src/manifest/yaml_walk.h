// Reading yaml-cpp nodes strictly: 1-based positions, duplicate and unknown
// keys, empty values, type and range errors, all collected as Diagnostics.
// yaml-cpp 0.7 keeps duplicate keys (both pairs stay in the map) and gives an
// empty value a Null node whose mark is the next token, so every check that
// concerns a key reports at the key.
#pragma once

#include <yaml-cpp/yaml.h>

#include "manifest/yaml_tree.h"

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/diag.h"

namespace ecert {

// Alias expansion is bounded by the number of nodes a full walk would visit
// and by the depth aliases can build (a YAML alias may even point at its own
// ancestor, which yaml-cpp turns into a cycle).
// A manifest within kMaxManifestBytes has far fewer nodes than this (each node
// takes at least a few bytes), so only alias expansion can reach it.
inline constexpr std::size_t kMaxManifestNodes = 2000000;
inline constexpr int kMaxExpandedDepth = 100;

class Walker {
 public:
  explicit Walker(std::string file) : file_(std::move(file)) {}

  SourcePos pos(const YAML::Mark& mark) const;
  SourcePos pos(const yaml::Node& node) const { return pos(node.Mark()); }
  void error(const SourcePos& at, std::string message);
  void warning(const SourcePos& at, std::string message);
  const std::string& file() const { return file_; }
  Diagnostics& diagnostics() { return diags_; }

  // True when `node`, with aliases expanded, stays within kMaxManifestNodes
  // (shared across calls) and kMaxExpandedDepth.
  bool within_expansion_bound(const yaml::Node& node);

 private:
  bool count(const yaml::Node& node, int depth);
  std::string file_;
  Diagnostics diags_;
  std::size_t nodes_ = 0;
};

// "a mapping", "a list", "a string", "an empty value".
const char* describe(const yaml::Node& node);

// The closest of `candidates` within edit distance 2, or "".
std::string closest(std::string_view word, const std::vector<std::string_view>& candidates);

struct Entry {
  std::string key;
  yaml::Node key_node;
  yaml::Node value;
  SourcePos key_pos;
  bool known = true;  // false for an unknown key, already reported
};

// The entries of one mapping. Reports keys that are not plain strings,
// duplicates (at the second occurrence) and keys not in `allowed` (with a
// suggestion, or a hint from `misplaced` saying where the key belongs).
class MapReader {
 public:
  struct Hint {
    std::string_view key;
    std::string_view message;  // e.g. "it belongs under 'vhost'"
  };
  MapReader(Walker& w, const yaml::Node& map, std::string_view where,
            const std::vector<std::string_view>& allowed, const std::vector<Hint>& misplaced = {});

  const Entry* find(std::string_view key) const;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

// Value readers. Each reports its own error (at the key for an empty value,
// at the value otherwise) and returns nullopt on error. `label` names the
// setting in messages, e.g. "vhost.port".
std::optional<std::string> read_string(Walker& w, const Entry& e, std::string_view label,
                                       std::string_view expected = "a string");
// `expected` replaces "an integer from MIN to MAX" in messages when given.
std::optional<long long> read_int(Walker& w, const Entry& e, std::string_view label,
                                  long long min, long long max, std::string_view expected = "");
// One of `values`, with a suggestion for a near miss. Returns its index.
std::optional<std::size_t> read_enum(Walker& w, const Entry& e, std::string_view label,
                                     const std::vector<std::string_view>& values);
// true or false (also True, TRUE, False, FALSE: YAML 1.2's booleans), not
// quoted. yes/no/on/off are refused: they are booleans to some YAML readers
// and strings to others.
std::optional<bool> read_bool(Walker& w, const Entry& e, std::string_view label);
// A non-empty list of non-empty strings: one command's argv. `example`
// completes "e.g. " in messages.
std::optional<std::vector<std::string>> read_argv(
    Walker& w, const yaml::Node& node, const SourcePos& empty_at, std::string_view label,
    std::string_view example = "[apache2ctl, configtest]");

struct TextAt {
  std::string text;
  SourcePos pos;
};
// The entries of a list of strings, each with where it was written.
// `expected` describes the list and `item` one entry, e.g. "a list of
// environment variable names" and "an environment variable name". Reports a
// value that is not a list and each entry that is not a string; returns
// nullopt after any of these.
std::optional<std::vector<TextAt>> read_string_list(Walker& w, const Entry& e,
                                                    std::string_view label,
                                                    std::string_view expected,
                                                    std::string_view item);
// Reports each entry equal to an earlier one, at the later: "'LABEL' lists
// 'X' twice (first at line N)", or "(first as 'Y' at line N)" when written
// differently. Entries are compared as `same_as` maps them (as written when
// it is empty). Returns true when there is none.
bool check_no_duplicates(Walker& w, const std::vector<TextAt>& items, std::string_view label,
                         const std::function<std::string(const std::string&)>& same_as = {});
// Reports an error unless `e.value` is a mapping; false then.
bool expect_map(Walker& w, const Entry& e, std::string_view label,
                std::string_view expected = "a mapping");
bool expect_list(Walker& w, const Entry& e, std::string_view label,
                 std::string_view expected = "a list");

}  // namespace ecert
