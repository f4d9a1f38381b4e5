// export.h: DLOCK_API, the mark of what dlock's libraries export. A shared build
// (-DBUILD_SHARED_LIBS=ON) compiles them with hidden visibility, so that a libdlock_*.so
// exports the declarations of include/dlock/ marked DLOCK_API and nothing else: no
// internal class, no copy of hiredis, Asio, gRPC or the ZooKeeper client that a backend
// links. A static build exports nothing, and the mark changes nothing.
#ifndef DLOCK_EXPORT_H_
#define DLOCK_EXPORT_H_

#if defined(__GNUC__) || defined(__clang__)
#define DLOCK_API [[gnu::visibility("default")]]
#else
#define DLOCK_API
#endif

#endif  // DLOCK_EXPORT_H_
