#include "util/strings.h"
#include "manifest/durations.h"

#include <algorithm>

namespace ecert {
namespace {

constexpr std::time_t kSecondsPerDay = 24 * 60 * 60;


// A number followed by a unit, as "33%" or "24h" are written.
struct Amount {
  bool has_number = false;   // one or more digits, no leading zero (a lone 0 allowed)
  long long number = 0;      // saturates above a billion: only ranges are checked
  std::string_view unit;     // what follows the digits
};

Amount split_amount(std::string_view text) {
  Amount a;
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  a.unit = text.substr(digits);
  if (digits == 0 || (digits > 1 && text[0] == '0')) return a;
  a.has_number = true;
  for (std::size_t i = 0; i < digits; ++i)
    a.number = std::min<long long>(a.number * 10 + (text[i] - '0'), 1000000000);
  return a;
}

}  // namespace

std::string Window::str() const {
  return std::to_string(value) + (kind == Kind::kPercent ? "%" : "d");
}

Result<Window> parse_window(std::string_view text, std::string_view label) {
  const Amount a = split_amount(text);
  const std::string head = squote(label) + " must be ";
  if (a.has_number && a.unit == "%") {
    if (a.number >= 1 && a.number <= kMaxWindowPercent)
      return Window{Window::Kind::kPercent, static_cast<int>(a.number)};
    return Status::invalid(head + "from 1% to 99% of the certificate's lifetime, got " + squote(text));
  }
  if (a.has_number && a.unit == "d") {
    if (a.number >= 1 && a.number <= kMaxWindowDays)
      return Window{Window::Kind::kDays, static_cast<int>(a.number)};
    return Status::invalid(head + "from 1d to 3650d, got " + squote(text));
  }
  std::string msg = head + "a share of the certificate's lifetime like 33% (1% to 99%) or a "
                           "number of days like 30d (1d to 3650d), got " + squote(text);
  if (a.has_number && a.unit.empty()) msg += "; add % or d";
  return Status::invalid(std::move(msg));
}

bool wider_than(const Window& a, const Window& b) {
  return a.kind == b.kind && a.value > b.value;
}

std::time_t window_opens(const Window& window, std::time_t not_before, std::time_t not_after) {
  const std::time_t lead = window.kind == Window::Kind::kPercent
                               ? (not_after - not_before) * window.value / 100
                               : window.value * kSecondsPerDay;
  return std::max(not_before, not_after - lead);
}

std::optional<std::time_t> window_reached(const Window& window, std::time_t not_before,
                                          std::time_t not_after, std::time_t now) {
  const std::time_t opens = window_opens(window, not_before, not_after);
  if (now < opens) return std::nullopt;
  return opens;
}

Result<std::chrono::hours> parse_repeat(std::string_view text, std::string_view label) {
  const Amount a = split_amount(text);
  const std::string head = squote(label) + " must be ";
  if (a.has_number && (a.unit == "h" || a.unit == "d")) {
    const long long hours = a.unit == "d" ? a.number * 24 : a.number;
    if (hours >= kMinRepeat.count() && hours <= kMaxRepeat.count())
      return std::chrono::hours(hours);
    return Status::invalid(head + "from 1h to 30d, got " + squote(text));
  }
  std::string msg = head + "a number of hours like 24h or of days like 2d, from 1h to 30d, got " +
                    squote(text);
  if (a.has_number && a.unit.empty()) msg += "; add h or d";
  return Status::invalid(std::move(msg));
}

}  // namespace ecert
