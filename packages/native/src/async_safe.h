// String helpers for the child between clone and execve, where only
// async-signal-safe code may run: no allocation, no locale, no stdio.

#pragma once

#include <cstddef>
#include <initializer_list>

namespace safe {

// Copies src into dst, truncating, always NUL-terminated. Returns the length written.
inline size_t copy(char* dst, size_t cap, const char* src) {
  if (cap == 0) return 0;
  size_t i = 0;
  for (; src != nullptr && src[i] != '\0' && i + 1 < cap; i++) dst[i] = src[i];
  dst[i] = '\0';
  return i;
}

// Writes a + b into dst. Returns false when the result does not fit.
inline bool join(char* dst, size_t cap, const char* a, const char* b) {
  size_t n = 0;
  for (const char* s : {a, b}) {
    for (size_t i = 0; s[i] != '\0'; i++) {
      if (n + 1 >= cap) return false;
      dst[n++] = s[i];
    }
  }
  dst[n] = '\0';
  return true;
}

// Writes the decimal form of value into dst. Returns the length written.
inline size_t formatUnsigned(char* dst, size_t cap, unsigned long value) {
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && n < sizeof(digits));
  if (n + 1 > cap) return 0;
  for (size_t i = 0; i < n; i++) dst[i] = digits[n - 1 - i];
  dst[n] = '\0';
  return n;
}

inline size_t length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') n++;
  return n;
}

}  // namespace safe
