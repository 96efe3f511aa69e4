#include "engine/services.h"

#include <thread>

namespace ecert {

std::time_t SystemClock::now() const { return std::time(nullptr); }

void SystemClock::sleep_for(std::chrono::milliseconds duration) const { std::this_thread::sleep_for(duration); }

ServedFacts RealTlsProbe::probe(const Site& site, std::chrono::milliseconds timeout) {
  return probe_served(site, fs_, timeout);
}

}  // namespace ecert
