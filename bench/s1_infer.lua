-- wrk script for scenario S1 over the inference protocol: the same 16
-- floats as s1.lua, as one FP64 input of a JSON infer request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs": [{"name": "w", "shape": [16], "datatype": "FP64", "data": '
    .. "[0.5,-1.25,2,3,0.1,0.2,0.3,0.4,1.5,-2.5,3.25,4.75,-0.125,0.0625,7,8]}]}"
