#include "manifest/durations.h"

#include <doctest/doctest.h>

namespace ecert {
namespace {

constexpr std::time_t kDay = 24 * 60 * 60;

Window window(std::string_view text) {
  auto r = parse_window(text, "renewal.before");
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  return *r;
}

std::string window_error(std::string_view text) {
  auto r = parse_window(text, "renewal.before");
  REQUIRE(!r.is_ok());
  return r.status().message();
}

long long repeat_hours(std::string_view text) {
  auto r = parse_repeat(text, "notify.repeat");
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  return r->count();
}

std::string repeat_error(std::string_view text) {
  auto r = parse_repeat(text, "notify.repeat");
  REQUIRE(!r.is_ok());
  return r.status().message();
}

TEST_CASE("windows: a share of the lifetime or a number of days, at both ends of each range") {
  CHECK(window("33%") == Window{Window::Kind::kPercent, 33});
  CHECK(window("1%") == Window{Window::Kind::kPercent, 1});
  CHECK(window("99%") == Window{Window::Kind::kPercent, 99});
  CHECK(window("30d") == Window{Window::Kind::kDays, 30});
  CHECK(window("1d") == Window{Window::Kind::kDays, 1});
  CHECK(window("3650d") == Window{Window::Kind::kDays, 3650});
  CHECK(window("33%").str() == "33%");
  CHECK(window("30d").str() == "30d");
}

TEST_CASE("windows: what is refused, and what the message says to write") {
  CHECK(window_error("0%") ==
        "'renewal.before' must be from 1% to 99% of the certificate's lifetime, got '0%'");
  CHECK(window_error("100%") ==
        "'renewal.before' must be from 1% to 99% of the certificate's lifetime, got '100%'");
  CHECK(window_error("0d") == "'renewal.before' must be from 1d to 3650d, got '0d'");
  CHECK(window_error("3651d") == "'renewal.before' must be from 1d to 3650d, got '3651d'");
  CHECK(window_error("99999999999999999999d") ==
        "'renewal.before' must be from 1d to 3650d, got '99999999999999999999d'");
  const std::string expected =
      "'renewal.before' must be a share of the certificate's lifetime like 33% (1% to 99%) or a "
      "number of days like 30d (1d to 3650d), got ";
  CHECK(window_error("33") == expected + "'33'; add % or d");
  for (const char* bad : {"", "%", "d", "033%", "3 0d", "30 d", "30D", "-5d", "+5d", "1.5%",
                          "30days", "4w", "33%%", " 33%"})
    CHECK(window_error(bad) == expected + "'" + bad + "'");
}

TEST_CASE("windows compare only when they are of one kind") {
  CHECK(wider_than(window("40%"), window("33%")));
  CHECK_FALSE(wider_than(window("33%"), window("33%")));
  CHECK_FALSE(wider_than(window("10%"), window("33%")));
  CHECK(wider_than(window("31d"), window("30d")));
  CHECK_FALSE(wider_than(window("30d"), window("30d")));
  CHECK_FALSE(wider_than(window("90d"), window("10%")));
  CHECK_FALSE(wider_than(window("10%"), window("1d")));
}

TEST_CASE("a window opens its share of the lifetime, or its days, before notAfter") {
  const std::time_t nb = 1'700'000'000;
  const std::time_t na = nb + 100 * kDay;  // a 100-day certificate
  CHECK(window_opens(window("33%"), nb, na) == na - 33 * kDay);
  CHECK(window_opens(window("30d"), nb, na) == na - 30 * kDay);
  CHECK(window_opens(window("99%"), nb, na) == nb + 1 * kDay);
  // Never before the certificate exists.
  CHECK(window_opens(window("3650d"), nb, na) == nb);
  // A share of an odd lifetime is whole seconds, rounded towards notAfter.
  CHECK(window_opens(window("33%"), 0, 10) == 7);
  CHECK(window_opens(window("50%"), 5, 5) == 5);
}

TEST_CASE("window_reached says whether the window is open and since when") {
  const std::time_t nb = 1'700'000'000;
  const std::time_t na = nb + 199 * kDay;  // Hongkong Post's longest
  const Window before = window("33%");
  const std::time_t opens = na - (199 * kDay * 33) / 100;
  CHECK_FALSE(window_reached(before, nb, na, nb).has_value());
  CHECK_FALSE(window_reached(before, nb, na, opens - 1).has_value());
  CHECK(window_reached(before, nb, na, opens) == opens);
  CHECK(window_reached(before, nb, na, na) == opens);
  CHECK(window_reached(before, nb, na, na + 365 * kDay) == opens);  // expired: still due
  CHECK(window_reached(window("10d"), nb, na, na - 10 * kDay) == na - 10 * kDay);
  CHECK_FALSE(window_reached(window("10d"), nb, na, na - 10 * kDay - 1).has_value());
  CHECK(window_reached(window("365d"), nb, na, nb) == nb);
}

TEST_CASE("repeat: hours or days from 1h to 30d") {
  CHECK(repeat_hours("24h") == 24);
  CHECK(repeat_hours("1h") == 1);
  CHECK(repeat_hours("720h") == 720);
  CHECK(repeat_hours("2d") == 48);
  CHECK(repeat_hours("30d") == 720);
  CHECK(repeat_error("0h") == "'notify.repeat' must be from 1h to 30d, got '0h'");
  CHECK(repeat_error("721h") == "'notify.repeat' must be from 1h to 30d, got '721h'");
  CHECK(repeat_error("31d") == "'notify.repeat' must be from 1h to 30d, got '31d'");
  const std::string expected =
      "'notify.repeat' must be a number of hours like 24h or of days like 2d, from 1h to 30d, got ";
  CHECK(repeat_error("24") == expected + "'24'; add h or d");
  for (const char* bad : {"", "h", "30m", "1w", "024h", "1.5d", "24 h", "24H", "-1h", "1h30m"})
    CHECK(repeat_error(bad) == expected + "'" + bad + "'");
}

}  // namespace
}  // namespace ecert
