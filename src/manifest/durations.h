// Durations as the manifest writes them: the renewal windows ("33%" of a
// certificate's lifetime, or "30d" before it ends) and how often a notice is
// repeated ("24h", "2d"). Pure functions: no clock, no I/O.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace ecert {

// How long before a certificate's notAfter a window opens: a share of its
// lifetime (notBefore..notAfter) or a number of days.
struct Window {
  enum class Kind { kPercent, kDays };
  Kind kind = Kind::kPercent;
  int value = 0;  // kPercent: 1-99; kDays: 1-3650

  friend bool operator==(const Window&, const Window&) = default;
  // "33%" or "30d", as the manifest writes it.
  std::string str() const;
};

inline constexpr int kMaxWindowPercent = 99;
inline constexpr int kMaxWindowDays = 3650;

// Parses "N%" (N from 1 to 99) or "Nd" (N from 1 to 3650), N written in
// decimal without a leading zero. On error, the message names `label` (e.g.
// "renewal.before"), quotes `text` and says what to write instead.
Result<Window> parse_window(std::string_view text, std::string_view label);

// True when `a` opens earlier than `b` for every certificate. Windows of
// different kinds are never compared (which opens first depends on the
// lifetime), so this is false for them.
bool wider_than(const Window& a, const Window& b);

// The moment `window` opens for a certificate valid from `not_before` to
// `not_after`: `not_after` less `value` percent of the lifetime (whole
// seconds, rounded towards `not_after`), or less `value` days; never earlier
// than `not_before` (nothing is due before the certificate exists).
// REQUIRES: not_before <= not_after.
std::time_t window_opens(const Window& window, std::time_t not_before, std::time_t not_after);

// When `now` is inside the window (at or after it opens, an expired
// certificate included): the moment it opened. nullopt while it is ahead.
// REQUIRES: not_before <= not_after.
std::optional<std::time_t> window_reached(const Window& window, std::time_t not_before,
                                          std::time_t not_after, std::time_t now);

inline constexpr std::chrono::hours kMinRepeat{1};
inline constexpr std::chrono::hours kMaxRepeat{30 * 24};

// Parses "Nh" (hours) or "Nd" (days), N in decimal without a leading zero,
// from 1h to 30d. On error, the message names `label`, quotes `text` and says
// what to write instead.
Result<std::chrono::hours> parse_repeat(std::string_view text, std::string_view label);

}  // namespace ecert
