{
  "targets": [
    {
      "target_name": "blackhole_native",
      "sources": [
        "src/addon.cc",
        "src/caps.cc",
        "src/child_error.cc",
        "src/errors.cc",
        "src/fds.cc",
        "src/host_facts.cc",
        "src/identity.cc",
        "src/landlock.cc",
        "src/monitor_netlink.cc",
        "src/mounts.cc",
        "src/net.cc",
        "src/notify.cc",
        "src/ns_release.cc",
        "src/pidfd.cc",
        "src/plan.cc",
        "src/rlimits.cc",
        "src/seccomp.cc",
        "src/sock_listen.cc",
        "src/sock_peercred.cc",
        "src/spawn.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
