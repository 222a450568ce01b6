"""A deliberately simple, independent reference of SPEC section 6 for property tests.

Plain Python, quadratic where that is clearer; shares no code with the services.
"""
