#include "mounts.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "async_safe.h"
#include "child_sys.h"

namespace mnt {

using launch::ChildFailure;
using launch::MountKind;
using launch::MountPlan;
using launch::Step;

namespace {

// These paths exist only in the child's mount namespace. The staging tmpfs
// covers the host's /tmp there and never writes to it.
constexpr const char* kStagingBase = "/tmp";
constexpr const char* kStagingNewRoot = "/tmp/newroot";
constexpr const char* kStagingOldRoot = "/tmp/oldroot";
constexpr const char* kNewRoot = "/newroot";
constexpr const char* kOldRoot = "/oldroot";

constexpr unsigned int kReadOnlyAttrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

// Returns 0 or an errno, like every helper here that returns int.
int setReadOnlyRecursive(const char* path) {
  struct mount_attr attr = {};
  attr.attr_set = kReadOnlyAttrs;
  return sys::error(sys::call(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof(attr)));
}

int remountReadOnly(const char* path, unsigned long extra) {
  return sys::mount(nullptr, path, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | extra, nullptr);
}

// mkdir -p, in place on a stack copy. Returns 0 or the errno of the failing mkdir.
int makeDirectories(const char* path, mode_t mode) {
  // Most targets (/proc, /dev, the tmpfs paths) exist in the host tree, so
  // one stat usually replaces a mkdir per path component.
  struct stat existing;
  if (sys::stat(path, &existing) == 0) return S_ISDIR(existing.st_mode) ? 0 : ENOTDIR;
  char buffer[PATH_MAX];
  size_t length = safe::copy(buffer, sizeof(buffer), path);
  if (length + 1 >= sizeof(buffer)) return ENAMETOOLONG;
  for (size_t i = 1; i <= length; i++) {
    if (buffer[i] != '/' && buffer[i] != '\0') continue;
    char saved = buffer[i];
    buffer[i] = '\0';
    int err = sys::mkdir(buffer, mode);
    if (err != 0 && err != EEXIST) return err;
    buffer[i] = saved;
  }
  struct stat info;
  int err = sys::stat(path, &info);
  if (err != 0) return err;
  return S_ISDIR(info.st_mode) ? 0 : ENOTDIR;
}

int createEmptyFile(const char* path) {
  long fd = sys::open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return sys::error(fd);
  sys::close(static_cast<int>(fd));
  return 0;
}

bool stagedPath(char* out, size_t cap, const char* root, const char* path) {
  return safe::join(out, cap, root, path);
}

bool bindStep(const MountPlan& step, ChildFailure& failure) {
  char source[PATH_MAX];
  char target[PATH_MAX];
  if (!stagedPath(source, sizeof(source), kOldRoot, step.source.c_str()) ||
      !stagedPath(target, sizeof(target), kNewRoot, step.target.c_str())) {
    return launch::fail(failure, Step::MountBind, ENAMETOOLONG, step.target.c_str());
  }
  struct stat sourceInfo;
  int err = sys::stat(source, &sourceInfo);
  if (err != 0) return launch::fail(failure, Step::MountBind, err, step.source.c_str());
  struct stat targetInfo;
  if (sys::stat(target, &targetInfo) != 0) {
    err = S_ISDIR(sourceInfo.st_mode) ? makeDirectories(target, 0755) : createEmptyFile(target);
    if (err != 0) return launch::fail(failure, Step::MountBind, err, step.target.c_str());
  }
  unsigned long flags = MS_BIND | (step.recursive ? MS_REC : 0);
  err = sys::mount(source, target, nullptr, flags, nullptr);
  if (err != 0) return launch::fail(failure, Step::MountBind, err, step.target.c_str());
  if (!step.readOnly) return true;
  // mount_setattr with AT_RECURSIVE reaches every submount, which a
  // MS_REMOUNT|MS_RDONLY would leave writable.
  err = step.recursive ? setReadOnlyRecursive(target) : remountReadOnly(target, MS_NOSUID | MS_NODEV);
  return err == 0 || launch::fail(failure, Step::MountBind, err, step.target.c_str());
}

bool procStep(const MountPlan& step, ChildFailure& failure) {
  char target[PATH_MAX];
  if (!stagedPath(target, sizeof(target), kNewRoot, step.target.c_str())) {
    return launch::fail(failure, Step::MountProc, ENAMETOOLONG, step.target.c_str());
  }
  int err = makeDirectories(target, 0555);
  if (err != 0) return launch::fail(failure, Step::MountProc, err, step.target.c_str());
  err = sys::mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  if (err != 0) return launch::fail(failure, Step::MountProc, err, step.target.c_str());
  return true;
}

bool devNodes(const char* dev, ChildFailure& failure) {
  static const char* const kNodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  char source[PATH_MAX];
  char target[PATH_MAX];
  for (const char* node : kNodes) {
    if (!safe::join(source, sizeof(source), kOldRoot, "/dev/") ||
        !safe::join(source, sizeof(source), source, node) ||
        !safe::join(target, sizeof(target), dev, "/") ||
        !safe::join(target, sizeof(target), target, node)) {
      return launch::fail(failure, Step::MountDev, ENAMETOOLONG, node);
    }
    int err = createEmptyFile(target);
    if (err != 0) return launch::fail(failure, Step::MountDev, err, target + safe::length(kNewRoot));
    err = sys::mount(source, target, nullptr, MS_BIND, nullptr);
    if (err != 0) return launch::fail(failure, Step::MountDev, err, target + safe::length(kNewRoot));
  }
  return true;
}

bool devLinksAndMounts(const char* dev, ChildFailure& failure) {
  static const char* const kLinks[][2] = {
      {"ptmx", "pts/ptmx"},         {"fd", "/proc/self/fd"},
      {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
      {"stderr", "/proc/self/fd/2"},
  };
  char path[PATH_MAX];
  for (const auto& link : kLinks) {
    if (!safe::join(path, sizeof(path), dev, "/") || !safe::join(path, sizeof(path), path, link[0])) {
      return launch::fail(failure, Step::MountDev, ENAMETOOLONG, link[0]);
    }
    int err = sys::symlink(link[1], path);
    if (err != 0) return launch::fail(failure, Step::MountDev, err, path + safe::length(kNewRoot));
  }
  if (!safe::join(path, sizeof(path), dev, "/pts")) {
    return launch::fail(failure, Step::MountDev, ENAMETOOLONG, "pts");
  }
  int err = sys::mkdir(path, 0755);
  if (err == 0) {
    err = sys::mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
  }
  if (err != 0) return launch::fail(failure, Step::MountDev, err, path + safe::length(kNewRoot));
  if (!safe::join(path, sizeof(path), dev, "/shm")) {
    return launch::fail(failure, Step::MountDev, ENAMETOOLONG, "shm");
  }
  err = sys::mkdir(path, 0755);
  if (err == 0) err = sys::mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=65536k");
  if (err != 0) return launch::fail(failure, Step::MountDev, err, path + safe::length(kNewRoot));
  return true;
}

bool devStep(const MountPlan& step, ChildFailure& failure) {
  char dev[PATH_MAX];
  if (!stagedPath(dev, sizeof(dev), kNewRoot, step.target.c_str())) {
    return launch::fail(failure, Step::MountDev, ENAMETOOLONG, step.target.c_str());
  }
  int err = makeDirectories(dev, 0755);
  if (err != 0) return launch::fail(failure, Step::MountDev, err, step.target.c_str());
  err = sys::mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
  if (err != 0) return launch::fail(failure, Step::MountDev, err, step.target.c_str());
  if (!devNodes(dev, failure) || !devLinksAndMounts(dev, failure)) return false;
  // The nodes are bind mounts of their own, so a read-only /dev tmpfs
  // still lets the service write to /dev/null; it only stops new entries.
  err = remountReadOnly(dev, MS_NOSUID | MS_NOEXEC);
  if (err != 0) return launch::fail(failure, Step::MountDev, err, step.target.c_str());
  return true;
}

bool tmpfsStep(const MountPlan& step, ChildFailure& failure) {
  char target[PATH_MAX];
  if (!stagedPath(target, sizeof(target), kNewRoot, step.target.c_str())) {
    return launch::fail(failure, Step::MountTmpfs, ENAMETOOLONG, step.target.c_str());
  }
  // Creating a missing target only works below a writable tmpfs from an
  // earlier step; below the read-only root it fails with EROFS.
  int err = makeDirectories(target, 0755);
  if (err != 0) return launch::fail(failure, Step::MountTmpfs, err, step.target.c_str());
  err = sys::mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, step.tmpfsOptions.c_str());
  if (err == 0 && step.readOnly) err = remountReadOnly(target, MS_NOSUID | MS_NODEV);
  if (err != 0) return launch::fail(failure, Step::MountTmpfs, err, step.target.c_str());
  return true;
}

bool maskStep(const MountPlan& step, ChildFailure& failure) {
  char target[PATH_MAX];
  if (!stagedPath(target, sizeof(target), kNewRoot, step.target.c_str())) {
    return launch::fail(failure, Step::MountMask, ENAMETOOLONG, step.target.c_str());
  }
  struct stat info;
  int err = sys::stat(target, &info);
  if (err == ENOENT) return true;
  if (err != 0) return launch::fail(failure, Step::MountMask, err, step.target.c_str());
  if (S_ISDIR(info.st_mode)) {
    unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    err = sys::mount("tmpfs", target, "tmpfs", flags, "mode=0555,size=4k");
    if (err != 0) return launch::fail(failure, Step::MountMask, err, step.target.c_str());
    return true;
  }
  char devNull[PATH_MAX];
  safe::join(devNull, sizeof(devNull), kOldRoot, "/dev/null");
  err = sys::mount(devNull, target, nullptr, MS_BIND, nullptr);
  // nodev would make /dev/null unreadable.
  if (err == 0) err = remountReadOnly(target, MS_NOSUID | MS_NOEXEC);
  if (err != 0) return launch::fail(failure, Step::MountMask, err, step.target.c_str());
  return true;
}

bool readonlyStep(const MountPlan& step, ChildFailure& failure) {
  char target[PATH_MAX];
  if (!stagedPath(target, sizeof(target), kNewRoot, step.target.c_str())) {
    return launch::fail(failure, Step::MountReadonly, ENAMETOOLONG, step.target.c_str());
  }
  struct stat info;
  int err = sys::stat(target, &info);
  if (err == ENOENT) return true;
  if (err != 0) return launch::fail(failure, Step::MountReadonly, err, step.target.c_str());
  err = sys::mount(target, target, nullptr, MS_BIND | MS_REC, nullptr);
  if (err == 0) err = setReadOnlyRecursive(target);
  if (err != 0) return launch::fail(failure, Step::MountReadonly, err, step.target.c_str());
  return true;
}

}  // namespace

bool makePropagationPrivate(ChildFailure& failure) {
  // Without this, mounts below could propagate back into the host's namespace.
  int err = sys::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  if (err != 0) return launch::fail(failure, Step::MountPrivate, err, "/");
  return true;
}

bool enterStagingRoot(ChildFailure& failure) {
  int err = sys::mount("blackhole-staging", kStagingBase, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k");
  if (err != 0) return launch::fail(failure, Step::MountStaging, err, kStagingBase);
  err = sys::mkdir(kStagingNewRoot, 0755);
  if (err == 0) err = sys::mkdir(kStagingOldRoot, 0700);
  if (err != 0) return launch::fail(failure, Step::MountStaging, err, kStagingNewRoot);
  // An empty tmpfs as the sandbox's base root: pivot_root needs a mount
  // point, and without a bind of the host root the sandbox contains only what
  // the mount steps put there.
  err = sys::mount("blackhole-root", kStagingNewRoot, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k");
  if (err != 0) return launch::fail(failure, Step::MountStaging, err, kStagingNewRoot);
  err = sys::error(sys::call(SYS_pivot_root, kStagingBase, kStagingOldRoot));
  if (err != 0) return launch::fail(failure, Step::PivotRoot, err, kStagingBase);
  err = sys::chdir("/");
  if (err != 0) return launch::fail(failure, Step::PivotRoot, err, "/");
  return true;
}

bool runMountSteps(const launch::LaunchPlan& plan, ChildFailure& failure) {
  // NOTE: targets are joined to /newroot as text, so a symlink inside the
  // host tree resolves against the staging root, not the sandbox's root.
  // Profiles should name real directories.
  for (const MountPlan& step : plan.mounts) {
    bool done = false;
    switch (step.kind) {
      case MountKind::Bind: done = bindStep(step, failure); break;
      case MountKind::Proc: done = procStep(step, failure); break;
      case MountKind::Dev: done = devStep(step, failure); break;
      case MountKind::Tmpfs: done = tmpfsStep(step, failure); break;
      case MountKind::Mask: done = maskStep(step, failure); break;
      case MountKind::Readonly: done = readonlyStep(step, failure); break;
    }
    if (!done) return false;
  }
  return true;
}

bool pivotIntoNewRoot(ChildFailure& failure) {
  // pivot_root(".", ".") stacks the staging root on top of the new root;
  // detaching it drops the staging tmpfs and the host tree below /oldroot.
  int err = sys::chdir(kNewRoot);
  if (err == 0) err = sys::error(sys::call(SYS_pivot_root, ".", "."));
  if (err != 0) return launch::fail(failure, Step::PivotRoot, err, kNewRoot);
  err = sys::error(sys::call(SYS_umount2, ".", MNT_DETACH));
  if (err != 0) return launch::fail(failure, Step::PivotRoot, err, "old root");
  err = sys::chdir("/");
  if (err != 0) return launch::fail(failure, Step::PivotRoot, err, "/");
  return true;
}

}  // namespace mnt
