#include "util/strings.h"
#include "manifest/names.h"

#include <idn2.h>

#include <cstdlib>
#include <memory>

namespace ecert {
namespace {

constexpr std::size_t kMaxNameLength = 253;
constexpr std::size_t kMaxLabelLength = 63;

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}


// UTS #46 non-transitional processing is what browsers do today; the
// transitional fallback accepts the few names (e.g. with ß) IDNA 2008 refuses
// that older CAs still issue for.
Result<std::string> to_a_labels(const std::string& lowered, std::string_view original) {
  int last_rc = IDN2_OK;
  for (int flags : {IDN2_NONTRANSITIONAL, IDN2_TRANSITIONAL}) {
    char* out = nullptr;
    int rc = idn2_to_ascii_8z(lowered.c_str(), &out, flags);
    std::unique_ptr<char, decltype(&idn2_free)> owned(out, &idn2_free);
    if (rc == IDN2_OK && out != nullptr) return std::string(out);
    last_rc = rc;
  }
  return Status::invalid("server name " + squote(original) +
                         " is not a valid internationalized domain name (" +
                         idn2_strerror(last_rc) + ")");
}

Status check_label(std::string_view label, std::string_view original) {
  if (label.empty())
    return Status::invalid("server name " + squote(original) +
                           " has an empty label; remove the extra dot");
  if (label.size() > kMaxLabelLength)
    return Status::invalid("label " + squote(label.substr(0, 20)) + "... in server name " +
                           squote(original) + " is longer than 63 characters");
  for (char c : label) {
    if (c == '*')
      return Status::invalid("server name " + squote(original) +
                             ": '*' must be the whole left-most label, as in '*.example.com'");
    if (!is_ldh(c))
      return Status::invalid("server name " + squote(original) + " contains " +
                             squote(std::string(1, c)) +
                             "; use only letters, digits, hyphens and dots");
  }
  if (label.front() == '-' || label.back() == '-')
    return Status::invalid("label " + squote(label) + " in server name " + squote(original) +
                           " starts or ends with a hyphen");
  return Status::ok();
}

}  // namespace

Result<std::string> normalize_server_name(std::string_view name, bool allow_wildcard) {
  if (name.empty())
    return Status::invalid("server name is empty; write a name like 'www.example.com'");
  if (name.back() == '.')
    return Status::invalid("server name " + squote(name) + " ends with a dot; write " +
                           squote(name.substr(0, name.size() - 1)));

  std::string lowered(name);
  for (char& c : lowered)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');

  bool wildcard = lowered.size() >= 2 && lowered.compare(0, 2, "*.") == 0;
  if (wildcard && !allow_wildcard)
    return Status::invalid("server name " + squote(name) +
                           " is a wildcard; only a site with feature: wildcard may use '*'");
  std::string rest = wildcard ? lowered.substr(2) : lowered;

  if (!is_ascii(rest)) {
    auto converted = to_a_labels(rest, name);
    if (!converted) return converted.status();
    rest = std::move(converted.value());
  }

  std::size_t labels = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = rest.find('.', start);
    std::string_view label = std::string_view(rest).substr(
        start, dot == std::string::npos ? std::string::npos : dot - start);
    if (Status s = check_label(label, name); !s) return s;
    ++labels;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }

  std::string result = wildcard ? "*." + rest : rest;
  if (wildcard && labels < 2)
    return Status::invalid("wildcard " + squote(name) +
                           " needs at least two labels after '*.', as in '*.example.com'");
  if (!wildcard && labels < 2)
    return Status::invalid("server name " + squote(name) +
                           " needs at least two labels, as in 'www.example.com'");
  if (result.size() > kMaxNameLength)
    return Status::invalid("server name " + squote(name) + " is " +
                           std::to_string(result.size()) +
                           " characters long as ASCII; at most 253 are allowed");
  return result;
}

}  // namespace ecert
