#include "util/strings.h"

#include <cctype>

namespace ecert {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::size_t size = 0;
  for (const auto& p : parts) size += p.size() + sep.size();
  std::string out;
  out.reserve(size);  // a plan's reasons stay at their length, not the next power of two
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

std::string squote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string shell_word(std::string_view s) {
  auto plain = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_./-+:@%,=").find(c) != std::string_view::npos;
  };
  bool quote = s.empty();
  for (char c : s) quote |= !plain(c);
  if (!quote) return std::string(s);
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace ecert
