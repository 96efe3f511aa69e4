// Errors are values. A Status is ok or carries a code and a message meant for
// the operator; Result<T> is a T or a non-ok Status.
#pragma once

#include <cassert>
#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace ecert {

class Status {
 public:
  enum class Code { kOk, kNotFound, kInvalid, kIoError, kPermission, kTimeout, kConflict };

  Status() = default;
  Status(const Status& other) : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status ok() { return Status(); }
  static Status not_found(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status invalid(std::string msg) { return Status(Code::kInvalid, std::move(msg)); }
  static Status io_error(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status permission(std::string msg) { return Status(Code::kPermission, std::move(msg)); }
  static Status timeout(std::string msg) { return Status(Code::kTimeout, std::move(msg)); }
  static Status conflict(std::string msg) { return Status(Code::kConflict, std::move(msg)); }
  // Builds the status for a failed system call from errno, naming what failed
  // and on which path. The one place errno becomes a message.
  static Status from_errno(int err, const std::string& what, const std::string& path);

  bool is_ok() const { return !rep_; }
  explicit operator bool() const { return is_ok(); }
  bool is_not_found() const { return code() == Code::kNotFound; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const {
    static const std::string kNone;
    return rep_ ? rep_->message : kNone;
  }

 private:
  // An ok Status is one null pointer: the facts of a fleet's sites hold
  // dozens of Status each, nearly all ok.
  struct Rep {
    Code code;
    std::string message;
  };
  Status(Code code, std::string msg) : rep_(std::make_unique<Rep>(Rep{code, std::move(msg)})) {}
  std::unique_ptr<Rep> rep_;
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {      // NOLINT: implicit by design
    assert(!std::get<Status>(v_).is_ok());
  }
  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ecert
