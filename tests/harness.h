/* Minimal test harness for the host-kvm tier, in the style of the Linux
 * KVM selftests: each test runs in its own child process with a time limit;
 * NB_ASSERT prints the expression and file:line; NB_REQUIRE skips the test
 * (never passes it) when the host lacks what it needs. Output, one line per
 * test, is what tests/run counts:
 *   ok NAME | not ok NAME: REASON | skip NAME: REASON
 */
#ifndef NESTBOX_TESTS_HARNESS_H
#define NESTBOX_TESTS_HARNESS_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NB_EXIT_SKIP 77

#define NB_ASSERT(cond, ...)                                                                \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: assertion failed: %s ", __FILE__, __LINE__, \
				#cond);                                                     \
			fprintf(stderr, " " __VA_ARGS__);                                   \
			fputc('\n', stderr);                                                \
			exit(1);                                                            \
		}                                                                           \
	} while (0)

#define NB_REQUIRE(cond, reason)                         \
	do {                                             \
		if (!(cond)) {                           \
			fprintf(stderr, "%s\n", reason); \
			exit(NB_EXIT_SKIP);              \
		}                                        \
	} while (0)

struct nb_test {
	const char *name;
	void (*fn)(void);
};

/* Runs each test in a child (crash isolation, alarm after timeout_sec),
 * prints its line and returns the count of failures. The child's stderr
 * holds the reason; it goes to a pipe and into the line. */
static inline int nb_test_run_all(const struct nb_test *tests, size_t n, unsigned timeout_sec)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		int pipefd[2];
		char reason[512] = "";
		int status;

		fflush(stdout);
		if (pipe(pipefd) < 0)
			return -1;
		pid_t pid = fork();
		if (pid == 0) {
			close(pipefd[0]);
			dup2(pipefd[1], STDERR_FILENO);
			alarm(timeout_sec);
			tests[i].fn();
			exit(0);
		}
		close(pipefd[1]);
		ssize_t len = read(pipefd[0], reason, sizeof(reason) - 1);
		while (len > 0 && len < (ssize_t)sizeof(reason) - 1) {
			ssize_t more = read(pipefd[0], reason + len,
					    sizeof(reason) - 1 - (size_t)len);
			if (more <= 0)
				break;
			len += more;
		}
		reason[len > 0 ? len : 0] = '\0';
		close(pipefd[0]);
		waitpid(pid, &status, 0);
		for (char *nl; (nl = strchr(reason, '\n'));)
			*nl = nl[1] ? ' ' : '\0';
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %s\n", tests[i].name);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == NB_EXIT_SKIP) {
			printf("skip %s: %s\n", tests[i].name, reason);
		} else {
			if (WIFSIGNALED(status) && !reason[0])
				snprintf(reason, sizeof(reason), "killed by %s%s",
					 strsignal(WTERMSIG(status)),
					 WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
			printf("not ok %s: %s\n", tests[i].name, reason[0] ? reason : "failed");
			failed++;
		}
	}
	return failed;
}

#define NB_TEST_MAIN(timeout_sec, ...)                                                            \
	int main(void)                                                                            \
	{                                                                                         \
		static const struct nb_test tests[] = { __VA_ARGS__ };                            \
		return nb_test_run_all(tests, sizeof(tests) / sizeof(tests[0]), timeout_sec) ? 1  \
											     : 0; \
	}

#endif
