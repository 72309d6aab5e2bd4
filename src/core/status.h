// Status and Result<T>: how bad files and bad requests are reported (DESIGN.md "Errors by kind").
// A Status carries a kind and a message that names the offending file, tensor or value and, where
// useful, a hint. Broken invariants are not Statuses: they abort through WEDLM_CHECK (check.h).
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "core/check.h"

namespace wedlm {

enum class ErrorKind {
  kOk = 0,
  kInvalidArgument,  // a value out of range, a malformed request
  kNotFound,         // a file or tensor that should exist does not
  kCorruptFile,      // a file exists but its contents are wrong
  kUnsupported,      // valid input this build does not handle
  kIo,               // the operating system refused (open, mmap, read)
  kOverloaded,       // the serving engine's queue is full: try again later
};

const char* error_kind_name(ErrorKind kind);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // "corrupt file: model.safetensors: header length 900 past the end of the file (120 bytes)"
  std::string to_string() const;

 private:
  ErrorKind kind_ = ErrorKind::kOk;
  std::string message_;
};

// A value or the Status saying why there is none. value() on an error aborts with its message.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    WEDLM_CHECK(!std::get<Status>(v_).is_ok(), "Result built from an ok Status");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    WEDLM_CHECK(is_ok(), status().to_string());
    return std::get<T>(v_);
  }
  const T& value() const& {
    WEDLM_CHECK(is_ok(), status().to_string());
    return std::get<T>(v_);
  }
  T&& value() && {
    WEDLM_CHECK(is_ok(), status().to_string());
    return std::get<T>(std::move(v_));
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace wedlm

// Early return of a failed Status from a function returning Status or Result<U>.
#define WEDLM_RETURN_IF_ERROR(expr)                   \
  do {                                                \
    ::wedlm::Status wedlm_status_ = (expr);           \
    if (!wedlm_status_.is_ok()) return wedlm_status_; \
  } while (0)
