// thread_annotations.h: Clang's thread-safety attributes (-Wthread-safety), as leveldb's
// port/thread_annotations.h and abseil's: which mutex guards a member, which a function
// needs held. They compile to nothing under other compilers; the test command builds the
// core with clang and -Wthread-safety -Werror, so that a missing lock fails the build.
#ifndef DLOCK_SRC_CORE_THREAD_ANNOTATIONS_H_
#define DLOCK_SRC_CORE_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define DLOCK_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define DLOCK_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) DLOCK_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY DLOCK_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) DLOCK_THREAD_ANNOTATION(guarded_by(x))
#define REQUIRES(...) DLOCK_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) DLOCK_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) DLOCK_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) DLOCK_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS DLOCK_THREAD_ANNOTATION(no_thread_safety_analysis)

#endif  // DLOCK_SRC_CORE_THREAD_ANNOTATIONS_H_
