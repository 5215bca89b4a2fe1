"""The request and response bodies of the services' HTTP APIs, by service.

`Whole` is a whole number a client writes in a request body (shares, days, years, percent):
JSON's integer only. pydantic would otherwise take `true` as 1 and `"100"` or `100.0` as
100, so an app's bug (a flag where a count belongs) would place an order for one share.
"""

from typing import Annotated

from pydantic import Strict

Whole = Annotated[int, Strict()]
