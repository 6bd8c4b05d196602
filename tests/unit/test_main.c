/* Runs every unit suite; the exit status is the number of failed tests
 * (capped), so `make check` sees any failure. */
#include <apr_general.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests.h"

int main(void)
{
    Suite *(*const suites[])(void) = {
        suite_b64, suite_json, suite_challenge, suite_credential, suite_receipt,
        suite_problem, suite_time, suite_digest, suite_amount, suite_addr,
        suite_accept, suite_args, suite_model, suite_verify, suite_store, suite_journal,
        suite_evm, suite_rpc, suite_jwt,
    };
    SRunner *sr;
    int failed;

    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "apr_initialize failed\n");
        return 99;
    }
    sr = srunner_create(suites[0]());
    for (size_t i = 1; i < sizeof(suites) / sizeof(suites[0]); i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
