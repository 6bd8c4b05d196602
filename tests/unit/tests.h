/* Unit tests of the protocol core (libcheck). */
#ifndef MPP_TESTS_H
#define MPP_TESTS_H

#include <check.h>

/* One suite per core module; test_main.c runs them all. */
Suite *suite_b64(void);
Suite *suite_json(void);
Suite *suite_challenge(void);
Suite *suite_credential(void);
Suite *suite_receipt(void);
Suite *suite_problem(void);
Suite *suite_time(void);
Suite *suite_digest(void);
Suite *suite_amount(void);
Suite *suite_addr(void);
Suite *suite_accept(void);
Suite *suite_args(void);
Suite *suite_model(void);
Suite *suite_verify(void);
Suite *suite_store(void);
Suite *suite_journal(void);
Suite *suite_evm(void);
Suite *suite_rpc(void);
Suite *suite_jwt(void);

#endif
