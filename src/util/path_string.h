// A path kept as its text only. std::filesystem::path also keeps a parsed
// copy of every component (about half a kilobyte for a typical absolute
// path), and a manifest of 10,000 sites holds some 70,000 paths. Converts
// to fs::path wherever one is needed.
#pragma once

#include <compare>
#include <string>

#include "util/fs.h"

namespace ecert {

class PathString {
 public:
  PathString() = default;
  PathString(std::string text) : text_(std::move(text)) {}  // NOLINT: implicit, like fs::path
  PathString(const char* text) : text_(text) {}             // NOLINT
  PathString(const fs::path& path) : text_(path.string()) {}  // NOLINT

  operator fs::path() const { return fs::path(text_); }  // NOLINT
  fs::path path() const { return fs::path(text_); }
  const std::string& string() const { return text_; }
  const char* c_str() const { return text_.c_str(); }
  bool empty() const { return text_.empty(); }
  fs::path parent_path() const { return path().parent_path(); }
  fs::path filename() const { return path().filename(); }

  friend bool operator==(const PathString&, const PathString&) = default;
  friend std::strong_ordering operator<=>(const PathString& a, const PathString& b) { return a.text_ <=> b.text_; }

 private:
  std::string text_;
};

}  // namespace ecert
