#ifndef CODBC_SHIM_H
#define CODBC_SHIM_H
// unixODBC 2.3 (apt unixodbc-dev): the driver manager's API, ODBC 3.x with the wide (UTF-16) calls.
#include <sql.h>
#include <sqlext.h>
#include <sqlucode.h>
#endif
