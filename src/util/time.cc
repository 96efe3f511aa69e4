#include "util/time.h"

namespace ecert {

std::string format_utc(std::time_t t, const char* format) {
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

}  // namespace ecert
