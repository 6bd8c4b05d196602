/* Unit tests of the store (shm table) and its journal. */
#include "tests.h"

Suite *suite_store(void)
{
    return suite_create("store");
}

Suite *suite_journal(void)
{
    return suite_create("journal");
}
