#include "engine/keygen.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace ecert {

std::vector<Result<crypto::PrivateKey>> generate_keys(const std::vector<int>& bits, const KeyProgress& progress) {
  const std::size_t total = bits.size();
  std::vector<std::optional<Result<crypto::PrivateKey>>> slots(total);
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  std::size_t done = 0;

  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < total;) {
      auto key = crypto::PrivateKey::generate_rsa(bits[i]);
      std::lock_guard<std::mutex> lock(mu);
      slots[i].emplace(std::move(key));
      ++done;
      cv.notify_one();
    }
  };
  std::size_t threads = std::max<std::size_t>(1, std::thread::hardware_concurrency());
  threads = std::min(threads, total);
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  {
    std::unique_lock<std::mutex> lock(mu);
    std::size_t reported = 0;
    while (reported < total) {
      cv.wait(lock, [&] { return done > reported; });
      reported = done;
      if (progress) {
        lock.unlock();
        progress(reported, total);
        lock.lock();
      }
    }
  }
  for (auto& t : pool) t.join();
  std::vector<Result<crypto::PrivateKey>> out;
  out.reserve(total);
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

}  // namespace ecert
