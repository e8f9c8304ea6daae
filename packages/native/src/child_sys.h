// Raw system calls for the launcher's child.
//
// The child shares the parent's memory (CLONE_VM, see spawn.cc) and runs
// with the parent thread's TLS, so glibc's errno in the child is the
// parent thread's errno. These wrappers issue the syscall instruction
// directly and return the kernel's result: a value >= 0, or -errno. They
// touch no memory but their arguments, take no locks and never write
// errno, so the child can use them while the parent keeps running.

#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <type_traits>

namespace sys {

inline long call6(long nr, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
  long result;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(result)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return result;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = nr;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile("svc 0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory");
  return x0;
#else
#error "sys::call6 supports x86_64 and aarch64 only"
#endif
}

template <typename T>
inline long toArg(T value) {
  if constexpr (std::is_pointer_v<T> || std::is_null_pointer_v<T>) {
    return reinterpret_cast<long>(value);
  } else {
    return static_cast<long>(value);
  }
}

// Issues syscall `nr` with up to six arguments. Returns >= 0 or -errno.
template <typename... Args>
inline long call(long nr, Args... args) {
  static_assert(sizeof...(Args) <= 6, "a system call takes at most six arguments");
  long values[6] = {toArg(args)...};
  return call6(nr, values[0], values[1], values[2], values[3], values[4], values[5]);
}

// Returns the errno in a result of call(), or 0 for a success.
inline int error(long result) {
  return result < 0 && result > -4096 ? static_cast<int>(-result) : 0;
}

// The wrappers below return 0 or an errno unless they say otherwise.

inline int mount(const char* source, const char* target, const char* type, unsigned long flags,
                 const void* data) {
  return error(call(SYS_mount, source, target, type, flags, data));
}

inline int mkdir(const char* path, mode_t mode) {
  return error(call(SYS_mkdirat, AT_FDCWD, path, mode));
}

inline int stat(const char* path, struct stat* info) {
  return error(call(SYS_newfstatat, AT_FDCWD, path, info, 0));
}

inline int symlink(const char* target, const char* path) {
  return error(call(SYS_symlinkat, target, AT_FDCWD, path));
}

inline int chdir(const char* path) { return error(call(SYS_chdir, path)); }

// Returns a descriptor, or -errno.
inline long open(const char* path, int flags, mode_t mode = 0) {
  return call(SYS_openat, AT_FDCWD, path, flags, mode);
}

inline void close(int fd) { call(SYS_close, fd); }

// Writes all of `size` bytes, retrying on EINTR. Returns 0 or an errno; a
// short write reports EIO.
inline int writeAll(int fd, const void* data, unsigned long size) {
  long written;
  do {
    written = call(SYS_write, fd, data, size);
  } while (written == -EINTR);
  if (written < 0) return error(written);
  return static_cast<unsigned long>(written) == size ? 0 : EIO;
}

[[noreturn]] inline void exitGroup(int status) {
  for (;;) call(SYS_exit_group, status);
}

}  // namespace sys
