// Key material and passphrases live only in SecretString: it has no stream
// operator, is wiped when destroyed, and is never copied into messages.
#pragma once

#include <string>
#include <string_view>

namespace ecert {

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(std::move(value)) {}
  SecretString(const SecretString& other) : value_(other.value_) {}
  SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) { other.wipe(); }
  SecretString& operator=(SecretString other) noexcept {
    wipe();
    value_.swap(other.value_);
    return *this;
  }
  ~SecretString() { wipe(); }

  // Deliberately verbose: every read of a secret is visible in review.
  const std::string& expose() const { return value_; }
  bool empty() const { return value_.empty(); }
  std::size_t size() const { return value_.size(); }

 private:
  void wipe() noexcept;
  std::string value_;
};

}  // namespace ecert
