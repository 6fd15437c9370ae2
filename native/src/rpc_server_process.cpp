// What `llama-reward rpc-server` needs from the process around ggml's RPC
// server, which offers only a blocking ggml_backend_rpc_start_server:
// - rpcDetachStdout: ggml's server prints a banner and two lines per client
//   connection on stdout from its own thread, and Node's C stdout is
//   unbuffered, so each line reaches the pipe in pieces ("Client connection
//   closed", then "\n"). A line the CLI writes meanwhile lands inside one of
//   them, and a reader waiting for it at the start of a line never sees it.
//   So fd 1 is pointed at stderr (ggml's lines become log lines, line-buffered
//   so each is one write between the CLI's own log lines) and the CLI writes
//   its ready line alone on a duplicate of the original stdout.
// - rpcListeningPort: ggml reports neither when it has bound nor which port
//   it got for port 0. The listening IPv4 socket this process holds on the
//   host answers both: the rpc-server process opens no listener of its own
//   while ggml's server runs, so it is ggml's.
// POSIX only: ggml's RPC backend library is not built on Windows.
#include "rpc_server_process.h"

#include "addon_state.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#ifndef _WIN32
#    include <arpa/inet.h>
#    include <dirent.h>
#    include <netinet/in.h>
#    include <sys/socket.h>
#    include <unistd.h>
#endif

namespace {
#ifdef _WIN32
Napi::Error no_rpc_server(Napi::Env env) {
    return addon_error(env, "ERR_GPU_UNAVAILABLE", "ggml's RPC server is not built on Windows");
}
#else
// The port of a listening IPv4 TCP socket bound to `addr` (network order), or 0 when fd is not one.
int listening_port(int fd, in_addr_t addr) {
    int       listening = 0;
    socklen_t len       = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
        return 0;
    }
    sockaddr_in local{};
    socklen_t   local_len = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&local), &local_len) != 0 || local.sin_family != AF_INET) {
        return 0;
    }
    return local.sin_addr.s_addr == addr ? ntohs(local.sin_port) : 0;
}
#endif
}  // namespace

Napi::Value rpc_detach_stdout(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
#ifdef _WIN32
    throw no_rpc_server(env);
#else
    fflush(stdout);
    const int saved = dup(STDOUT_FILENO);
    if (saved < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        const int error = errno;
        if (saved >= 0) {
            close(saved);
        }
        throw addon_error(env, "ERR_INTERNAL", std::string("cannot point stdout at stderr: ") + std::strerror(error));
    }
    setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
    return Napi::Number::New(env, saved);
#endif
}

Napi::Value rpc_listening_port(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
        throw Napi::TypeError::New(env, "rpcListeningPort(host: string)");
    }
#ifdef _WIN32
    throw no_rpc_server(env);
#else
    const std::string host = info[0].As<Napi::String>().Utf8Value();
    in_addr           addr{};
    if (inet_pton(AF_INET, host.c_str(), &addr) != 1) {
        throw Napi::TypeError::New(env, "rpcListeningPort: host must be an IPv4 address");
    }
    // the open descriptors: /proc/self/fd on Linux, /dev/fd on macOS
    DIR * dir = opendir("/proc/self/fd");
    if (dir == nullptr) {
        dir = opendir("/dev/fd");
    }
    if (dir == nullptr) {
        throw addon_error(env, "ERR_INTERNAL", std::string("cannot list open descriptors: ") + std::strerror(errno));
    }
    const int dir_fd = dirfd(dir);
    int       port   = 0;
    while (const dirent * entry = readdir(dir)) {
        char *     end = nullptr;
        const long fd  = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd == dir_fd) {
            continue;
        }
        port = listening_port(static_cast<int>(fd), addr.s_addr);
        if (port != 0) {
            break;
        }
    }
    closedir(dir);
    return Napi::Number::New(env, port);
#endif
}
