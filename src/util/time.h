#pragma once

#include <ctime>
#include <string>

namespace ecert {

// `t` in UTC, formatted by strftime(3) with `format` (at most 63 characters out).
std::string format_utc(std::time_t t, const char* format);

}  // namespace ecert
